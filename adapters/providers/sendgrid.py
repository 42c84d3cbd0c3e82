"""SendGrid Event Webhook: signed-webhook verification and event parsing.

Docs: https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
and https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
- Not HMAC: ECDSA P-256 / SHA-256 by SendGrid's private key over
  `X-Twilio-Email-Event-Webhook-Timestamp` + raw body; the signature header is base64 DER.
  We verify with the public key from Mail Settings (base64 DER SubjectPublicKeyInfo,
  `VerificationSecrets.public_key`). The SDK checks no time window; we apply ours.
- The body is a JSON array: one POST, many events. Dedup on `sg_event_id`.
- `sg_message_id` is the `X-Message-Id` returned at send time followed by `.filter…`
  routing suffixes; `subject_id` is the part before the first dot so it matches what the
  send stored. The full value stays in `details["sg_message_id"]`.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationNotConfigured,
    VerificationSecrets,
    drop_empty,
    from_unix,
    json_body,
    optional_str,
    require,
    stable_event_id,
)
from adapters.signing import check_freshness, parse_unix_timestamp, require_secret

key = "sendgrid"
display_name = "SendGrid"
# Same names as sendgrid.helpers.eventwebhook.eventwebhook_header.EventWebhookHeader.
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
_MAX_SIGNATURE_CHARS = 256  # a base64 DER P-256 signature is about 96 characters

EVENT_TYPES: dict[str, EventType] = {
    "processed": EventType.PROCESSED,
    "deferred": EventType.DEFERRED,
    "delivered": EventType.DELIVERED,
    "bounce": EventType.BOUNCED,
    "dropped": EventType.DROPPED,
    "open": EventType.OPENED,
    "click": EventType.CLICKED,
    "spamreport": EventType.SPAM_REPORT,
    "unsubscribe": EventType.UNSUBSCRIBED,
    "group_unsubscribe": EventType.UNSUBSCRIBED,
}

# A "bounce" event's `type` field: `bounce` is a hard bounce, `blocked` a soft one
# (the receiving server refused for now). https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event#delivery-events
_BOUNCE_KIND = {"bounce": "hard", "blocked": "soft"}


@lru_cache(maxsize=64)
def _public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey:
    try:
        key_object = load_der_public_key(base64.b64decode(public_key_b64, validate=True))
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        raise VerificationNotConfigured(
            "the SendGrid verification key is not a base64 DER public key"
        ) from None
    if (
        not isinstance(key_object, ec.EllipticCurvePublicKey)
        or key_object.curve.name != "secp256r1"
    ):
        raise VerificationNotConfigured("the SendGrid verification key is not a P-256 key")
    return key_object


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    signature_b64 = request.headers.get(SIGNATURE_HEADER, "")
    if not signature_b64 or len(signature_b64) > _MAX_SIGNATURE_CHARS:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header is missing or oversized")
    timestamp_text = request.headers.get(TIMESTAMP_HEADER)
    timestamp = parse_unix_timestamp(timestamp_text, header=TIMESTAMP_HEADER)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} is not base64") from None
    public_key = _public_key(require_secret(secrets.public_key, "SendGrid verification key"))
    check_freshness(timestamp, now=now, tolerance_seconds=tolerance_seconds)
    try:
        public_key.verify(
            signature, timestamp_text.encode() + request.body, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise SignatureInvalid("the SendGrid signature does not match the body") from None


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """SendGrid has no subscription handshake (its OAuth option is a separate bearer check)."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    batch = json_body(request)
    if not isinstance(batch, list):
        raise MalformedPayload("SendGrid posts a JSON array of events")
    return [_event(item, position) for position, item in enumerate(batch)]


def _event(item: object, position: int) -> InboundEvent:
    where = f"event {position}"
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    vendor_type = require(item, "event", where=where)
    occurred_at = from_unix(require(item, "timestamp", (int, float), where=where))
    event_type = EVENT_TYPES.get(vendor_type, EventType.UNKNOWN)
    message_id = optional_str(item, "sg_message_id")
    details = {
        "recipient": item.get("email"),
        "sg_message_id": message_id,
        "smtp_id": item.get("smtp-id"),
        "reason": item.get("reason"),
        "status": item.get("status"),
        "response": item.get("response"),
        "attempt": item.get("attempt"),
        "url": item.get("url"),
        "category": item.get("category"),
        "asm_group_id": item.get("asm_group_id"),
    }
    if event_type is EventType.BOUNCED:
        details["bounce_type"] = _BOUNCE_KIND.get(str(item.get("type")), "hard")
        details["bounce_classification"] = item.get("bounce_classification")
    # Every current event carries sg_event_id; the digest only covers legacy deliveries.
    external_id = optional_str(item, "sg_event_id") or stable_event_id(
        "sendgrid", vendor_type, message_id, item.get("email"), item.get("timestamp")
    )
    return InboundEvent(
        type=event_type,
        external_id=external_id,
        occurred_at=occurred_at,
        subject_id=message_id.split(".", 1)[0] if message_id else None,
        raw=item,
        vendor_type=vendor_type,
        details=drop_empty(details),
    )
