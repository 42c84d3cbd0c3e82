"""Ziggy: X-Signature = hex HMAC-SHA256 over "<X-Timestamp>.<body>", 5-minute window."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from adapters.inbound import (
    EventType,
    InboundRequest,
    SignatureInvalid,
    StaleTimestamp,
    VerificationSecrets,
)
from adapters.providers import ziggy
from tests.adapters.providers.contract import NOW, WebhookContract, load_fixtures

SECRET = "test_ziggy_secret_p6r2t8v4"  # also signed the .raw fixture (in milliseconds)
OTHER_SECRET = "test_ziggy_secret_00000000"


def ziggy_headers(secret: str, timestamp: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Signature": digest, "X-Timestamp": timestamp}


class TestZiggyWebhooks(WebhookContract):
    provider = ziggy
    signature_headers = ("X-Signature",)
    raw_now = 1767290283

    def secrets(self):
        return VerificationSecrets(signing_key=SECRET)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_SECRET)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        return self.request_for(
            body, {**extra_headers, **ziggy_headers(secrets.signing_key, str(timestamp), body)}
        )

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "event_type": vendor_type}


def _event(name):
    contract = TestZiggyWebhooks()
    [event] = ziggy.parse(
        contract.signed(next(f for f in load_fixtures("ziggy") if f.name == name))
    )
    return event


def test_millisecond_timestamps_from_the_reference_signer_are_accepted_and_windowed():
    contract = TestZiggyWebhooks()
    body = contract.encode(load_fixtures("ziggy")[0].payload)
    in_window = contract.request_for(body, ziggy_headers(SECRET, str(NOW * 1000 - 299_000), body))
    ziggy.verify(in_window, contract.secrets(), now=NOW)
    stale = contract.request_for(body, ziggy_headers(SECRET, str(NOW * 1000 - 301_000), body))
    with pytest.raises(StaleTimestamp):
        ziggy.verify(stale, contract.secrets(), now=NOW)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Signature": "ab" * 32},
        {"X-Signature": "ab" * 32, "X-Timestamp": "yesterday"},
        {"X-Signature": "sha256=" + "ab" * 32, "X-Timestamp": str(NOW)},
        {"X-Signature": "ab", "X-Timestamp": str(NOW)},
    ],
)
def test_malformed_headers_are_refused_before_any_hashing(headers):
    contract = TestZiggyWebhooks()
    with pytest.raises(SignatureInvalid):
        ziggy.verify(contract.request_for(b"{}", headers), contract.secrets(), now=NOW)


def test_access_and_consumption_events_are_normalised():
    checkin = _event("access.checkin__court")
    assert (checkin.type, checkin.subject_id) == (EventType.ACCESS_CHECKIN, "ses_8f2c4a6e1b3d")
    assert checkin.details == {
        "user_id": "mem_5a7c9e1b",
        "court_id": "court-07",
        "checked_in_at": "2026-01-01T17:58:02.901Z",
        "device_id": "gate-north-2",
    }
    assert checkin.occurred_at.isoformat() == "2026-01-01T17:58:03.214000+00:00"
    checkout = _event("access.checkout__court")
    assert (checkout.type, checkout.details["duration_minutes"]) == (EventType.ACCESS_CHECKOUT, 92)
    consumption = _event("consumption.recorded__bar")
    assert (consumption.type, consumption.details["total_price"]) == (
        EventType.CONSUMPTION_RECORDED,
        65.0,
    )


def test_events_without_ids_get_a_digest_that_survives_reformatting():
    contract = TestZiggyWebhooks()
    fixture = load_fixtures("ziggy")[0]
    [compact] = ziggy.parse(contract.request_for(contract.encode(fixture.payload)))
    [pretty] = ziggy.parse(contract.request_for(json.dumps(fixture.payload, indent=2).encode()))
    assert compact.external_id == pretty.external_id
    assert compact.external_id.startswith("sha256:")
