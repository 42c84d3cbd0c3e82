"""Reads of integrations, their transitions and validations."""
from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from integrations.errors import NotFound
from integrations.models import Integration, LifecycleTransition


def integration_list(*, tenant, model=Integration, filters: dict | None = None) -> QuerySet:
    qs = model.objects.filter(tenant=tenant)
    filters = filters or {}
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("provider"):
        qs = qs.filter(provider=filters["provider"])
    if filters.get("family"):
        qs = qs.filter(family=filters["family"])
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=filters["created_before"])
    return qs


def integration_get(*, tenant, integration_id, model=Integration) -> Integration:
    integration = model.objects.filter(tenant=tenant, pk=integration_id).first()
    if integration is None:
        raise NotFound("integration not found")
    return integration


def integration_transition_list(*, tenant, integration: Integration) -> QuerySet:
    return LifecycleTransition.objects.filter(tenant=tenant, integration_id=integration.pk)


def integration_webhook_url(*, integration: Integration) -> str | None:
    """Where the provider posts this config's webhooks, or None when it sends none."""
    from integrations.families.registry import find_family

    spec = find_family(integration.family)
    binding = spec.providers.get(integration.provider) if spec else None
    receives = binding.receives_webhooks if binding else getattr(integration, "receives_webhooks", False)
    if not receives:
        return None
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}/webhooks/{integration.provider}/{integration.pk}/"
