"""Stripe webhook events: verification and parsing (the outbound adapter is `stripe.py`).

Docs: https://docs.stripe.com/webhooks#verify-events ; event object:
tests/sandboxes/specs/stripe.json `#/components/schemas/event`.
- `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 with the endpoint secret
  (`whsec_…`, used as is, not base64-decoded) over `"{t}.{raw body}"`. Several v1 entries
  appear while a secret rolls; any match is enough. v0 entries are ignored.
- stripe-python rejects only old timestamps (300 s); we reject both directions.
- Dedup on `event.id` (`evt_…`); events arrive more than once and out of order.
- v2 "thin" notifications (`object: "v2.core.event"`) use the same header; they carry an
  ISO `created` and a `related_object` instead of `data.object`, and parse as UNKNOWN
  unless their type is mapped.
"""

from __future__ import annotations

from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    VerificationSecrets,
    drop_empty,
    from_iso8601,
    from_unix,
    json_object_body,
    nested,
    require,
)
from adapters.signing import require_secret, verify_timestamped_hmac

key = "stripe"
display_name = "Stripe"
SIGNATURE_HEADER = "Stripe-Signature"

# https://docs.stripe.com/api/events/types
EVENT_TYPES: dict[str, EventType] = {
    "payment_intent.succeeded": EventType.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": EventType.PAYMENT_FAILED,
    "payment_intent.canceled": EventType.PAYMENT_CANCELED,
    "charge.refunded": EventType.REFUNDED,
}


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    secret = require_secret(secrets.signing_key, "Stripe endpoint signing secret")
    verify_timestamped_hmac(
        body=request.body,
        header_value=request.headers.get(SIGNATURE_HEADER),
        header=SIGNATURE_HEADER,
        secret=secret,
        now=now,
        tolerance_seconds=tolerance_seconds,
    )


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Stripe has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    event = json_object_body(request)
    event_id = require(event, "id")
    vendor_type = require(event, "type")
    created = event.get("created")
    occurred_at = (
        from_iso8601(created, name="created")
        if isinstance(created, str)
        else from_unix(created, name="created")
    )
    data = event.get("data")
    subject = data.get("object") if isinstance(data, dict) else None
    if subject is not None and not isinstance(subject, dict):
        raise MalformedPayload("data.object must be an object")
    subject = subject or {}
    related = nested(event, "related_object")
    event_type = EVENT_TYPES.get(vendor_type, EventType.UNKNOWN)
    return [
        InboundEvent(
            type=event_type,
            external_id=event_id,
            occurred_at=occurred_at,
            subject_id=_subject_id(event_type, subject) or related.get("id"),
            raw=event,
            vendor_type=vendor_type,
            details=_details(event_type, subject, event),
        )
    ]


def _subject_id(event_type: EventType, subject: dict) -> str | None:
    # A refund is about the payment intent the hub created; the charge id is kept in details.
    if event_type is EventType.REFUNDED and isinstance(subject.get("payment_intent"), str):
        return subject["payment_intent"]
    return subject.get("id") if isinstance(subject.get("id"), str) else None


def _details(event_type: EventType, subject: dict, event: dict) -> dict:
    details: dict = {
        "livemode": event.get("livemode"),
        "account": event.get("account"),
        "amount": subject.get("amount"),
        "currency": subject.get("currency"),
    }
    if event_type is EventType.PAYMENT_FAILED:
        error = nested(subject, "last_payment_error")
        details.update(
            error_code=error.get("code"),
            decline_code=error.get("decline_code"),
            error_message=error.get("message"),
        )
    elif event_type is EventType.PAYMENT_CANCELED:
        details["cancellation_reason"] = subject.get("cancellation_reason")
    elif event_type is EventType.REFUNDED:
        details.update(
            charge_id=subject.get("id"),
            amount_refunded=subject.get("amount_refunded"),
            fully_refunded=subject.get("refunded"),
        )
    return drop_empty(details)
