"""Reads of webhook rows, always within one tenant. Another tenant's row is a 404."""
from __future__ import annotations

from django.db.models import QuerySet

from integrations.errors import NotFound
from webhooks.models import InboundEvent, WebhookDelivery, WebhookEndpoint


def inbound_event_list(*, tenant, filters: dict | None = None) -> QuerySet:
    qs = InboundEvent.objects.filter(tenant=tenant)
    for name in ("provider", "event_type", "status", "vendor_type", "subject_id"):
        if (filters or {}).get(name):
            qs = qs.filter(**{name: filters[name]})
    if (filters or {}).get("integration"):
        qs = qs.filter(integration_id=filters["integration"])
    return qs


def inbound_event_get(*, tenant, event_id) -> InboundEvent:
    event = InboundEvent.objects.filter(tenant=tenant, pk=event_id).first()
    if event is None:
        raise NotFound("webhook event not found")
    return event


def endpoint_list(*, tenant) -> QuerySet:
    return WebhookEndpoint.objects.filter(tenant=tenant)


def endpoint_get(*, tenant, endpoint_id) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_related("tenant").filter(tenant=tenant, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


def delivery_list(*, tenant, endpoint: WebhookEndpoint | None = None, filters: dict | None = None) -> QuerySet:
    qs = WebhookDelivery.objects.filter(tenant=tenant)
    if endpoint is not None:
        qs = qs.filter(endpoint=endpoint)
    for name in ("status", "event_type"):
        if (filters or {}).get(name):
            qs = qs.filter(**{name: filters[name]})
    return qs


def delivery_get(*, tenant, delivery_id) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(tenant=tenant, pk=delivery_id).first()
    if delivery is None:
        raise NotFound("webhook delivery not found")
    return delivery
