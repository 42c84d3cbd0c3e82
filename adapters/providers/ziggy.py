"""Ziggy access control webhooks (court check-in/out and consumption), and any partner that
signs the same way.

Source: the club architecture brief (shared/seeds/003_…): events `access.checkin`,
`access.checkout`, `consumption.recorded`, each `{event_type, timestamp, data{session_id…}}`,
and the partner request signer it describes.
- `X-Signature` is the lowercase hex HMAC-SHA256 of `"{X-Timestamp}.{raw body}"`.
- `X-Timestamp` must be within the tolerance (5 minutes by default). The brief's reference
  signer uses JavaScript's `Date.now()`, i.e. milliseconds, so values above 10^11 are read
  as milliseconds; the signed string uses the header exactly as sent either way.
- Events carry no id; `external_id` is a digest of the whole event (see
  `generic.partner_event`), so a retried delivery maps to the same id.
"""

from __future__ import annotations

from adapters.inbound import (
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationSecrets,
    json_body,
)
from adapters.providers.generic import PARTNER_EVENT_TYPES, partner_event
from adapters.signing import (
    check_freshness,
    constant_time_equals,
    hmac_sha256_hex,
    parse_unix_timestamp,
    require_secret,
)

key = "ziggy"
display_name = "Ziggy"
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
EVENT_TYPES = PARTNER_EVENT_TYPES
_MILLISECONDS_ABOVE = 10**11  # 10^11 s is the year 5138; 10^11 ms is 1973
_HEX_SHA256_LENGTH = 64


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if len(given) != _HEX_SHA256_LENGTH:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header is missing or not a SHA-256 hex digest")
    timestamp_text = request.headers.get(TIMESTAMP_HEADER)
    timestamp = parse_unix_timestamp(timestamp_text, header=TIMESTAMP_HEADER)
    secret = require_secret(secrets.signing_key, "Ziggy signing secret")
    seconds = timestamp / 1000 if timestamp > _MILLISECONDS_ABOVE else timestamp
    check_freshness(seconds, now=now, tolerance_seconds=tolerance_seconds)
    expected = hmac_sha256_hex(secret, f"{timestamp_text}.".encode() + request.body)
    if not constant_time_equals(expected, given):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Ziggy has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_body(request)
    items = payload if isinstance(payload, list) else [payload]
    events = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedPayload(f"event {position} is not an object")
        events.append(partner_event(item, provider=key))
    return events
