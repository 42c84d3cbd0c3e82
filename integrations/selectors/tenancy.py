"""Reads for tenants and API keys; every selector takes the tenant first."""
from __future__ import annotations

from django.db.models import QuerySet

from integrations.errors import NotFound
from integrations.models import ApiKey, Tenant


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant)


def api_key_get(*, tenant: Tenant, api_key_id) -> ApiKey:
    key = api_key_list(tenant=tenant).filter(pk=api_key_id).first()
    if key is None:
        raise NotFound("API key not found")
    return key
