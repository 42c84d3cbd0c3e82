"""The checks every inbound webhook provider inherits.

A provider's test module subclasses `WebhookContract`, names the provider, gives test
secrets and says how to sign a body; the contract then checks that a good signature passes,
that a missing, wrong or stale one and a tampered body fail, that every fixture in
tests/fixtures/providers/<key>/ parses into well-formed events, that every vendor type the
parser maps has a fixture, that unknown vendor types become UNKNOWN, that the byte-exact
`.raw` fixture verifies, and that fixtures carry no real contact data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import pytest

from adapters.inbound import (
    EventType,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    StaleTimestamp,
    VerificationNotConfigured,
    VerificationSecrets,
)
from adapters.providers import WEBHOOK_PROVIDERS

FIXTURES_ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "providers"
NOW = 1_767_225_600  # 2026-01-01T00:00:00Z: every verification in the contract runs "now" here
TOLERANCE = 300
UNKNOWN_VENDOR_TYPE = "hub.contract.never_sent"
_FIXTURE_NAME = re.compile(r"^[A-Za-z0-9_.]+__[a-z0-9_]+(\.headers)?\.(json|raw)$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PLUS_NUMBER = re.compile(r"(?<![A-Za-z0-9])\+\d{8,15}")
_REDACTED_DOMAINS = ("example.com", "example.org", "example.net")
# Message-ids name the vendor's own mail hosts, which identify no person.
_VENDOR_HOST_DOMAINS = ("sendgrid.net",)


@dataclass(frozen=True)
class Fixture:
    name: str
    payload: Any
    headers: dict[str, str]


def load_fixtures(directory: str) -> list[Fixture]:
    folder = FIXTURES_ROOT / directory
    fixtures = []
    for path in sorted(folder.glob("*.json")):
        if path.name.endswith(".headers.json"):
            continue
        headers_path = path.with_name(path.stem + ".headers.json")
        headers = json.loads(headers_path.read_text()) if headers_path.exists() else {}
        fixtures.append(Fixture(path.stem, json.loads(path.read_text()), headers))
    return fixtures


def raw_fixtures(directory: str) -> list[tuple[str, bytes, dict[str, str]]]:
    folder = FIXTURES_ROOT / directory
    return [
        (
            path.stem,
            path.read_bytes(),
            json.loads(path.with_name(path.stem + ".headers.json").read_text()),
        )
        for path in sorted(folder.glob("*.raw"))
    ]


class WebhookContract:
    """Subclass as `TestXxxWebhooks(WebhookContract)` and fill in the hooks below."""

    provider: ClassVar[Any]
    fixture_dir: ClassVar[str] = ""  # defaults to provider.key
    url: ClassVar[str] = (
        "https://hub.example.com/webhooks/{key}/6d1f0c8e-3b7a-4f53-9c8e-2f0a4b1d9e77/"
    )
    form_encoded: ClassVar[bool] = False
    has_timestamp: ClassVar[bool] = True
    detects_tampering: ClassVar[bool] = True  # False only where nothing is signed (46elks)
    bytes_are_signed: ClassVar[bool] = True  # the signature covers the raw body bytes
    signature_headers: ClassVar[tuple[str, ...]] = ()
    empty_fixtures: ClassVar[frozenset[str]] = frozenset()  # fixtures that carry no event
    raw_now: ClassVar[int] = NOW  # the clock at which the .raw fixture was signed

    @classmethod
    def inapplicable_checks(cls) -> dict[str, str]:
        """Contract checks that cannot apply to this provider's scheme, with the reason.

        They are not collected at all (tests/adapters/providers/conftest.py), so a run's skip
        count stays reserved for tests that could not reach a service.
        """
        checks = {}
        if not cls.has_timestamp:
            reason = f"{cls.provider.key} signs no timestamp; replay protection is dedup only"
            checks["test_stale_and_far_future_timestamps_fail"] = reason
            checks["test_timestamp_at_the_edge_of_the_window_passes"] = reason
        if not cls.detects_tampering:
            checks["test_tampered_body_fails"] = f"{cls.provider.key} signs nothing"
        if cls.form_encoded:
            checks["test_wrongly_typed_fields_raise_malformed_payload_and_nothing_else"] = "form values are strings"
        return checks

    # --- hooks -------------------------------------------------------------------------------
    def secrets(self) -> VerificationSecrets:
        raise NotImplementedError

    def wrong_secrets(self) -> VerificationSecrets:
        raise NotImplementedError

    def raw_secrets(self) -> VerificationSecrets:
        """The test secret the byte-exact .raw fixture was signed with."""
        return self.secrets()

    def sign(
        self,
        body: bytes,
        secrets: VerificationSecrets,
        timestamp: int,
        extra_headers: dict[str, str],
    ) -> InboundRequest:
        raise NotImplementedError

    def strip_signature(self, request: InboundRequest) -> InboundRequest:
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in {h.lower() for h in self.signature_headers}
        }
        return replace(request, headers=headers)

    def tamper(self, request: InboundRequest) -> InboundRequest:
        return replace(request, body=request.body + b" ")

    def with_vendor_type(self, payload: Any, vendor_type: str) -> Any:
        raise NotImplementedError

    def malformed_bodies(self) -> list[bytes]:
        if self.form_encoded:
            return [b"\xff\xfe\xfa", b"no-equals-sign", b""]
        return [b"", b"{not json", b"\xff\xfe", b"42", b'"text"']

    # --- helpers -------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return self.provider.key

    def fixtures(self) -> list[Fixture]:
        fixtures = load_fixtures(self.fixture_dir or self.key)
        assert fixtures, f"no fixtures in tests/fixtures/providers/{self.fixture_dir or self.key}/"
        return fixtures

    def endpoint_url(self) -> str:
        return self.url.format(key=self.key)

    def encode(self, payload: Any) -> bytes:
        if self.form_encoded:
            return urlencode(payload).encode()
        return json.dumps(payload).encode()

    def request_for(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        url: str | None = None,
        method: str = "POST",
    ) -> InboundRequest:
        content_type = (
            "application/x-www-form-urlencoded" if self.form_encoded else "application/json"
        )
        return InboundRequest(
            method=method,
            url=url or self.endpoint_url(),
            headers={"Content-Type": content_type, **(headers or {})},
            body=body,
            remote_addr="203.0.113.10",
        )

    def signed(
        self, fixture: Fixture, *, secrets: VerificationSecrets | None = None, timestamp: int = NOW
    ) -> InboundRequest:
        return self.sign(
            self.encode(fixture.payload), secrets or self.secrets(), timestamp, fixture.headers
        )

    def verify(
        self, request: InboundRequest, secrets: VerificationSecrets | None = None, now: int = NOW
    ) -> None:
        self.provider.verify(
            request, secrets or self.secrets(), now=now, tolerance_seconds=TOLERANCE
        )

    # --- the contract --------------------------------------------------------------------------
    def test_provider_is_registered(self):
        assert WEBHOOK_PROVIDERS[self.key] is self.provider

    def test_good_signature_passes_for_every_fixture(self):
        for fixture in self.fixtures():
            # given a fixture signed the way the provider signs it
            request = self.signed(fixture)
            # when verified / then nothing is raised
            self.verify(request)

    def test_missing_signature_fails(self):
        request = self.strip_signature(self.signed(self.fixtures()[0]))
        with pytest.raises(SignatureInvalid) as raised:
            self.verify(request)
        assert not isinstance(raised.value, (StaleTimestamp, VerificationNotConfigured))

    def test_signature_from_another_secret_fails(self):
        request = self.signed(self.fixtures()[0], secrets=self.wrong_secrets())
        with pytest.raises(SignatureInvalid) as raised:
            self.verify(request)
        assert type(raised.value) is SignatureInvalid

    def test_endpoint_without_secret_accepts_nothing(self):
        request = self.signed(self.fixtures()[0])
        with pytest.raises(VerificationNotConfigured):
            self.verify(request, VerificationSecrets())

    def test_stale_and_far_future_timestamps_fail(self):
        fixture = self.fixtures()[0]
        for offset in (-(TOLERANCE + 1), TOLERANCE + 1):
            with pytest.raises(StaleTimestamp):
                self.verify(self.signed(fixture, timestamp=NOW + offset))

    def test_timestamp_at_the_edge_of_the_window_passes(self):
        fixture = self.fixtures()[0]
        for offset in (-TOLERANCE, TOLERANCE):
            self.verify(self.signed(fixture, timestamp=NOW + offset))

    def test_tampered_body_fails(self):
        request = self.tamper(self.signed(self.fixtures()[0]))
        with pytest.raises(SignatureInvalid):
            self.verify(request)

    def test_every_fixture_parses_into_well_formed_events(self):
        for fixture in self.fixtures():
            events = self.provider.parse(self.signed(fixture))
            if fixture.name in self.empty_fixtures:
                assert events == [], fixture.name
                continue
            assert events, f"{fixture.name} produced no event"
            for event in events:
                assert isinstance(event.type, EventType)
                assert isinstance(event.external_id, str) and event.external_id
                assert event.occurred_at.utcoffset() == timedelta(0), fixture.name
                assert isinstance(event.vendor_type, str) and event.vendor_type
                assert event.subject_id is None or isinstance(event.subject_id, str)
                assert isinstance(event.raw, dict) and isinstance(event.details, dict)

    def test_every_handled_vendor_type_has_a_fixture(self):
        seen = {
            event.vendor_type
            for fixture in self.fixtures()
            for event in self.provider.parse(self.signed(fixture))
        }
        missing = set(self.provider.EVENT_TYPES) - seen
        assert not missing, f"vendor types without a fixture: {sorted(missing)}"

    def test_unknown_vendor_type_maps_to_unknown(self):
        fixture = next(f for f in self.fixtures() if f.name not in self.empty_fixtures)
        body = self.encode(self.with_vendor_type(fixture.payload, UNKNOWN_VENDOR_TYPE))
        events = self.provider.parse(self.request_for(body, fixture.headers))
        assert events
        assert {(event.type, event.vendor_type) for event in events} == {
            (EventType.UNKNOWN, UNKNOWN_VENDOR_TYPE)
        }

    def test_malformed_bodies_raise_malformed_payload(self):
        for body in self.malformed_bodies():
            with pytest.raises(MalformedPayload):
                self.provider.parse(self.request_for(body))

    def test_wrongly_typed_fields_raise_malformed_payload_and_nothing_else(self):
        for fixture in self.fixtures():
            for mutated in _type_confusions(fixture.payload):
                request = self.request_for(self.encode(mutated), fixture.headers)
                try:
                    self.provider.parse(request)
                except MalformedPayload:
                    pass

    def test_junk_signature_headers_are_refused_as_invalid_signatures(self):
        request = self.signed(self.fixtures()[0])
        for header in self.signature_headers:
            for junk in _JUNK_HEADER_VALUES:
                headers = {**request.headers, header: junk}
                with pytest.raises(SignatureInvalid):
                    self.verify(replace(request, headers=headers))

    def test_ordinary_deliveries_are_not_handshakes(self):
        for fixture in self.fixtures():
            if fixture.name not in self.empty_fixtures:
                assert self.provider.handshake(self.signed(fixture), self.secrets()) is None

    def test_raw_fixture_verifies_byte_for_byte(self):
        raws = raw_fixtures(self.fixture_dir or self.key)
        assert raws, "keep one byte-exact .raw fixture with its .headers.json"
        for name, body, headers in raws:
            request = self.request_for(body, headers)
            self.verify(request, self.raw_secrets(), now=self.raw_now)
            assert self.provider.parse(request), name
            if self.bytes_are_signed:
                # the same JSON, re-serialised, is other bytes and must not verify
                reserialised = json.dumps(json.loads(body)).encode()
                assert reserialised != body
                with pytest.raises(SignatureInvalid):
                    self.verify(
                        replace(request, body=reserialised), self.raw_secrets(), now=self.raw_now
                    )

    def test_fixture_names_follow_the_convention(self):
        folder = FIXTURES_ROOT / (self.fixture_dir or self.key)
        bad = [path.name for path in folder.iterdir() if not _FIXTURE_NAME.match(path.name)]
        assert not bad, f"fixture names must be <event>__<variant>.json: {bad}"

    def test_fixtures_carry_no_real_contact_data(self):
        folder = FIXTURES_ROOT / (self.fixture_dir or self.key)
        for path in folder.iterdir():
            text = path.read_text(errors="replace")
            for match in _EMAIL.finditer(text):
                domain = match.group(1).lower()
                assert domain.endswith(_REDACTED_DOMAINS + _VENDOR_HOST_DOMAINS), (
                    path.name,
                    match[0],
                )
            for number in _PLUS_NUMBER.findall(text):
                assert number.startswith("+4670"), (path.name, number)


_CONFUSIONS = (None, 7, "x", [], {}, True)
_JUNK_HEADER_VALUES = (
    "",
    " ",
    "ü",
    "=",
    ",,,",
    "t=,v1=",
    "t=1,v1=ä",
    "sha256=",
    "v1,",
    "v1,ü",
    "sha1=zz",
    "A" * 10_000,
    "t=99999999999999999999,v1=00",
)


def _type_confusions(payload: Any, depth: int = 8):
    """Copies of `payload` with one field, at a time, replaced by a value of another type."""
    if depth == 0:
        return
    if isinstance(payload, dict):
        for name, value in payload.items():
            for other in _CONFUSIONS:
                yield {**payload, name: other}
            for inner in _type_confusions(value, depth - 1):
                yield {**payload, name: inner}
    elif isinstance(payload, list):
        for index, value in enumerate(payload[:3]):
            for other in _CONFUSIONS:
                yield [*payload[:index], other, *payload[index + 1 :]]
            for inner in _type_confusions(value, depth - 1):
                yield [*payload[:index], inner, *payload[index + 1 :]]
