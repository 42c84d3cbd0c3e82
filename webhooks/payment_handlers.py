"""Payment-gateway webhook handlers: a Stripe PaymentIntent's outcome moves the hub's Payment.

Registered when the webhooks app is ready. The payment is found by the PaymentIntent id that
the submission stored (`Payment.provider_payment_id`), within the config the event came to,
and only ever moves forward (`payment_status_from_gateway`)."""
from __future__ import annotations

from adapters.inbound import EventType
from integrations.models import Payment
from integrations.services.payments import payment_status_from_gateway
from webhooks.handlers import register_handler
from webhooks.models import InboundEvent

_STRIPE_OUTCOMES = {
    EventType.PAYMENT_SUCCEEDED: Payment.Status.SUCCEEDED,
    EventType.PAYMENT_FAILED: Payment.Status.FAILED,
    EventType.PAYMENT_CANCELED: Payment.Status.CANCELED,
}


def _failure_reason(event: InboundEvent) -> str:
    details = event.details or {}
    parts = [details.get("error_code"), details.get("decline_code"), details.get("error_message"),
             details.get("cancellation_reason")]
    return ": ".join(str(part) for part in parts if part)


@register_handler("stripe", EventType.PAYMENT_SUCCEEDED)
@register_handler("stripe", EventType.PAYMENT_FAILED)
@register_handler("stripe", EventType.PAYMENT_CANCELED)
def stripe_payment_intent_outcome(event: InboundEvent) -> None:
    if not event.subject_id:
        return  # a PaymentIntent event without an intent id tells us nothing to apply
    payment_status_from_gateway(tenant_id=event.tenant_id, integration_id=event.integration_id,
                                provider_payment_id=event.subject_id,
                                status=_STRIPE_OUTCOMES[EventType(event.event_type)],
                                reason=_failure_reason(event), hub_payment_id=_hub_payment_id(event))


def _hub_payment_id(event: InboundEvent) -> str | None:
    """The hub's payment id, which the submission put in the PaymentIntent's metadata."""
    intent = ((event.payload or {}).get("data") or {}).get("object") or {}
    metadata = intent.get("metadata") if isinstance(intent, dict) else None
    value = metadata.get("hub_payment_id") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else None
