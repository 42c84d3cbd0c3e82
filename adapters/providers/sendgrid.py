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

Sending goes through the official `sendgrid` SDK (v3 Mail Send,
https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send), pointed at
PROVIDER_SENDGRID_BASE_URL when set. Checked against tests/sandboxes/specs/sendgrid-mail.json.
- Each recipient is a personalization of its own, so no recipient sees the others.
- The message id is the `X-Message-Id` response header; the body of a 202 is empty.
- Validation is a Mail Send with `mail_settings.sandbox_mode` on: the only operation in the
  published description, it proves the key holds the `mail.send` scope (a key without it is
  refused 403) and that SendGrid accepts the configured sender, and it delivers nothing
  (sandbox mode answers 200 instead of 202). GET /v3/scopes would be cheaper but is not in
  the description the sandbox checks against.
- SendGrid has no idempotency key; the hub's message id travels in `custom_args`.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import python_http_client
import sendgrid as sendgrid_sdk
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from adapters.errors import ProviderError, ProviderUnavailable, classify_http_status
from adapters.http import parse_retry_after, provider_base_url
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
from adapters.redaction import redact
from adapters.signing import check_freshness, parse_unix_timestamp, require_secret
from adapters.types import OutboundEmail, SendResult, ValidationResult

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


# --- sending -----------------------------------------------------------------------------

_ERROR_TEXT_LIMIT = 300


@dataclass(frozen=True)
class Config:
    api_key: str
    from_email: str
    from_name: str = ""
    reply_to_email: str = ""
    open_tracking: bool = True
    click_tracking: bool = True
    unsubscribe_tracking: bool = False
    ip_pool_name: str = ""
    sandbox_mode: bool = False
    base_url: str = field(
        default_factory=lambda: provider_base_url("sendgrid", "https://api.sendgrid.com")
    )
    timeout_seconds: float = 10.0


def _post_mail(config: Config, body: dict) -> Any:
    # One SDK client per call: its request headers are mutable shared state.
    client = sendgrid_sdk.SendGridAPIClient(api_key=config.api_key, host=config.base_url)
    try:
        return client.client.mail.send.post(request_body=body, timeout=config.timeout_seconds)
    except python_http_client.exceptions.HTTPError as exc:
        raise _translate(exc) from None
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, garbled
        raise ProviderUnavailable(
            f"SendGrid: POST /v3/mail/send failed ({type(exc).__name__})",
            provider=key,
            code="connection_failed",
        ) from None


def _translate(exc: python_http_client.exceptions.HTTPError) -> ProviderError:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body)
    try:
        errors = json.loads(body).get("errors") or []
        text = "; ".join(
            str(error.get("message", "")) for error in errors if isinstance(error, dict)
        )
    except (ValueError, AttributeError):
        text = body
    text = redact(text or str(exc.reason))[:_ERROR_TEXT_LIMIT]
    retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
    return classify_http_status(
        int(exc.status_code),
        provider=key,
        retry_after=retry_after,
        message=f"SendGrid answered {exc.status_code} to POST /v3/mail/send: {text}",
    )


def _sender(config: Config) -> dict:
    sender = {"email": config.from_email}
    if config.from_name:
        sender["name"] = config.from_name
    return sender


def mail_body(config: Config, email: OutboundEmail) -> dict:
    """The v3 Mail Send body for one email, one personalization per recipient."""
    personalizations = []
    for recipient in email.to:
        to = {"email": recipient.email, **({"name": recipient.name} if recipient.name else {})}
        personalization: dict = {"to": [to], "custom_args": {"hub_message_id": email.reference}}
        if email.template_id:
            personalization["dynamic_template_data"] = email.template_data
        personalizations.append(personalization)
    body: dict = {
        "personalizations": personalizations,
        "from": _sender(config),
        "subject": email.subject,
        "mail_settings": {"sandbox_mode": {"enable": config.sandbox_mode}},
        "tracking_settings": {
            "open_tracking": {"enable": config.open_tracking},
            "click_tracking": {"enable": config.click_tracking},
            "subscription_tracking": {"enable": config.unsubscribe_tracking},
        },
    }
    if email.template_id:
        body["template_id"] = email.template_id
    else:
        # text/plain must come first when both are given.
        body["content"] = [
            {"type": kind, "value": value}
            for kind, value in (("text/plain", email.body_text), ("text/html", email.body_html))
            if value
        ]
    if config.reply_to_email:
        body["reply_to"] = {"email": config.reply_to_email}
    if config.ip_pool_name:
        body["ip_pool_name"] = config.ip_pool_name
    return body


def send_email(config: Config, email: OutboundEmail) -> SendResult:
    response = _post_mail(config, mail_body(config, email))
    message_id = response.headers.get("X-Message-Id", "") if response.headers else ""
    if response.status_code == 200 and config.sandbox_mode:
        # Sandbox mode validates and delivers nothing; it answers 200 without a message id.
        return SendResult(provider_message_id=message_id, details={"sandbox_mode": True})
    if not message_id:
        raise ProviderUnavailable(
            "SendGrid accepted the mail but returned no X-Message-Id",
            provider=key,
            status_code=response.status_code,
        )
    return SendResult(provider_message_id=message_id)


def validate(config: Config) -> ValidationResult:
    probe = {
        "personalizations": [{"to": [{"email": config.from_email}]}],
        "from": _sender(config),
        "subject": "Integration hub pre-flight check",
        "content": [
            {"type": "text/plain", "value": "Validation only; sandbox mode delivers nothing."}
        ],
        "mail_settings": {"sandbox_mode": {"enable": True}},
    }
    _post_mail(config, probe)
    return ValidationResult(
        message=(
            f"authenticated with SendGrid; a sandbox-mode send from {config.from_email} "
            "was accepted"
        ),
        details={"sender": config.from_email},
    )
