"""Reads of the local secret store. Listing never loads the ciphertext."""
from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import LocalSecret, Tenant


def local_secret_list(*, tenant: Tenant) -> QuerySet[LocalSecret]:
    """Every stored version of the tenant's secrets, without their ciphertext."""
    return LocalSecret.objects.for_tenant(tenant).defer("ciphertext")


def local_secret_get(*, tenant: Tenant, name: str, version: int | None = None) -> LocalSecret | None:
    """The named version, or the newest one when `version` is None; None when there is none."""
    rows = LocalSecret.objects.for_tenant(tenant).filter(name=name)
    if version is not None:
        return rows.filter(version=version).first()
    return rows.order_by("-version").first()


def local_secret_exists(*, tenant: Tenant, name: str, version: int | None = None) -> bool:
    rows = LocalSecret.objects.for_tenant(tenant).filter(name=name)
    if version is not None:
        rows = rows.filter(version=version)
    return rows.exists()
