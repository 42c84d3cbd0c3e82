"""The catalogue of events the hub emits to tenants, and the one function that emits them."""
from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "integration.activated": "An integration or communication config became active.",
    "integration.paused": "An integration was paused.",
    "integration.error": "An integration moved to error (e.g. repeated credential failures).",
    "integration.decommissioned": "An integration was decommissioned.",
    "integration.draft": "An integration returned to draft.",
    "payment.succeeded": "A payment succeeded at the gateway.",
    "payment.failed": "A payment failed at the gateway.",
    "message.delivered": "A message was delivered to its recipient.",
    "message.bounced": "An email bounced.",
    "message.failed": "A message failed for good.",
    "message.read": "A WhatsApp message was read.",
    "sync.completed": "A sync run finished.",
    "sync.failed": "A sync run failed.",
    "member.checked_in": "A member checked in at a court.",
    "member.checked_out": "A member checked out.",
    "device.offline": "A court device went silent.",
    "highlight.created": "A highlight clip was created.",
    "dead_letter.created": "An operation was dead-lettered after its retries.",
    "webhook_endpoint.failing": "An outbound webhook endpoint is failing.",
    "webhook_endpoint.recovered": "An outbound webhook endpoint recovered.",
    "webhook_endpoint.exhausted": "A delivery to an endpoint ran out of retries.",
    "webhook_endpoint.disabled": "An outbound webhook endpoint was disabled.",
    "webhook.test": "A test event sent on request to one endpoint (never fanned out).",
}


def event_emit(*, tenant_id, event_type: str, data: dict):
    """Write the event to the outbox in the caller's transaction."""
    from integrations.models import OutboxEvent

    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type '{event_type}'")
    event = OutboxEvent.objects.create(tenant_id=tenant_id, event_type=event_type, data=data)
    return event
