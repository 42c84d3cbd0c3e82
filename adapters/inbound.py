"""Inbound webhook types shared by every provider module, and the small parsing helpers
they have in common.

A provider module exposes `verify(request, secrets, *, now=None, tolerance_seconds=300)`,
`parse(request) -> list[InboundEvent]` and `handshake(request, secrets)`. The webhook view
calls `handshake` first (a non-None answer is sent back as is), then `verify` on the raw
bytes, then `parse`. Nothing here knows about tenants, models or Django.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit


class EventType(StrEnum):
    """The hub's vocabulary for what a provider tells us; vendor names map onto these."""

    PROCESSED = "processed"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    READ = "read"
    SPAM_REPORT = "spam_report"
    UNSUBSCRIBED = "unsubscribed"
    INBOUND_MESSAGE = "inbound_message"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_CANCELED = "payment_canceled"
    REFUNDED = "refunded"
    LIVE_STREAM_ACTIVE = "live_stream_active"
    LIVE_STREAM_IDLE = "live_stream_idle"
    ASSET_READY = "asset_ready"
    ASSET_ERRORED = "asset_errored"
    ACCESS_CHECKIN = "access_checkin"
    ACCESS_CHECKOUT = "access_checkout"
    CONSUMPTION_RECORDED = "consumption_recorded"
    RECORD_CHANGED = "record_changed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class InboundEvent:
    type: EventType
    # The provider's unique event id, or a stable digest of the event where the provider
    # has none (each provider module documents which); the view stores events once per id.
    external_id: str
    occurred_at: datetime  # aware, UTC
    subject_id: str | None  # provider id of the message / payment intent / asset it is about
    raw: dict
    vendor_type: str
    details: dict = field(default_factory=dict)


class SignatureInvalid(Exception):
    """The request is not provably from the provider: the view answers 401/403, stores nothing."""


class StaleTimestamp(SignatureInvalid):
    """Signed, but outside the allowed clock window: a replay or a badly skewed clock."""


class VerificationNotConfigured(SignatureInvalid):
    """The endpoint has no usable secret for this scheme, so nothing can be accepted."""


class MalformedPayload(Exception):
    """The (authentic) body cannot be read as the provider's documented shape: answer 400."""


@dataclass(frozen=True)
class VerificationSecrets:
    signing_key: str | None = None  # HMAC key / app secret / auth token / whsec_ secret
    public_key: str | None = None  # SendGrid's base64 DER key, Standard Webhooks' whpk_ key
    verify_token: str | None = None  # WhatsApp's GET handshake token
    url_token: str | None = None  # secret carried in the callback URL (46elks)

    def __repr__(self) -> str:  # never let a secret reach a log line or a traceback
        present = [
            name
            for name in ("signing_key", "public_key", "verify_token", "url_token")
            if getattr(self, name)
        ]
        return f"VerificationSecrets(present={present})"


class Headers(Mapping[str, str]):
    """Read-only header mapping with case-insensitive lookup, as HTTP requires."""

    def __init__(self, headers: Mapping[str, str] | None = None) -> None:
        self._items = {name.lower(): (name, value) for name, value in (headers or {}).items()}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._items)})"


@dataclass(frozen=True)
class InboundRequest:
    method: str
    url: str  # the public URL the provider called, query string included
    headers: Mapping[str, str]
    body: bytes
    remote_addr: str | None = None
    # Parsed from `url` when not given; the last value wins for repeated names.
    query: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))
        if self.query is None:
            parsed = dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))
            object.__setattr__(self, "query", parsed)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


class WebhookProvider(Protocol):
    """What the webhook view needs from a provider: a module or an object with these."""

    key: str

    def verify(
        self,
        request: InboundRequest,
        secrets: VerificationSecrets,
        *,
        now: float | None = None,
        tolerance_seconds: int = 300,
    ) -> None: ...

    def parse(self, request: InboundRequest) -> list[InboundEvent]: ...

    def handshake(
        self, request: InboundRequest, secrets: VerificationSecrets
    ) -> tuple[int, dict, bytes] | None: ...


# --- helpers for provider parsers -------------------------------------------------------------


def json_body(request: InboundRequest) -> Any:
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload(f"body is not valid JSON: {exc}") from None


def json_object_body(request: InboundRequest) -> dict:
    payload = json_body(request)
    if not isinstance(payload, dict):
        raise MalformedPayload("body must be a JSON object")
    return payload


def form_pairs(body: bytes) -> list[tuple[str, str]]:
    """Every name/value pair of an application/x-www-form-urlencoded body, repeats kept."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload("form body is not UTF-8") from None
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"body is not form-encoded: {exc}") from None


def form_body(request: InboundRequest) -> dict[str, str]:
    return dict(form_pairs(request.body))


def require(
    mapping: Mapping, name: str, kind: type | tuple[type, ...] = str, *, where: str = "body"
) -> Any:
    """The value of a required field, of the expected JSON type, or MalformedPayload."""
    value = mapping.get(name) if isinstance(mapping, Mapping) else None
    if value is None or not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise MalformedPayload(f"{where} needs '{name}'")
    if isinstance(value, str) and not value:
        raise MalformedPayload(f"{where} has an empty '{name}'")
    return value


def nested(mapping: Mapping, name: str) -> dict:
    """A sub-object that may be absent or of the wrong type, read as an empty dict."""
    value = mapping.get(name)
    return value if isinstance(value, dict) else {}


def nested_list(mapping: Mapping, name: str) -> list:
    """A list field that may be absent or of the wrong type, read as an empty list."""
    value = mapping.get(name)
    return value if isinstance(value, list) else []


def optional_str(mapping: Mapping, name: str) -> str | None:
    value = mapping.get(name)
    if value is None or value == "":
        return None
    return str(value)


def from_unix(value: Any, *, name: str = "timestamp") -> datetime:
    """An aware UTC datetime from Unix seconds given as a number or a numeric string."""
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise MalformedPayload(f"'{name}' is not a Unix timestamp") from None


def from_iso8601(value: Any, *, name: str = "timestamp") -> datetime:
    """An aware UTC datetime from ISO 8601; a value without offset is taken as UTC, which is
    what the providers that omit it (Xero's eventDateUtc, 46elks) document."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"'{name}' is not an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(
            value.replace("Z", "+00:00") if value.endswith("Z") else value
        )
    except ValueError:
        raise MalformedPayload(f"'{name}' is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def received_now() -> datetime:
    """The receipt time, for providers whose callbacks carry no time of their own."""
    return datetime.now(tz=UTC)


def stable_event_id(*parts: Any) -> str:
    """A fixed-length id for an event the provider gives no id: the SHA-256 of its identifying
    parts in canonical JSON, so re-serialised retries of one event map to one id."""
    canonical = json.dumps(
        parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def drop_empty(details: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in details.items() if value not in (None, "", [], {})}
