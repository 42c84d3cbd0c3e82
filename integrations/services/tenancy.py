"""Writes for tenants, memberships and API keys."""
from __future__ import annotations

import hashlib
import secrets as pysecrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from config.scopes import is_valid_grant
from integrations.errors import ApplicationError, NotFound
from integrations.models import ApiKey, Membership, Tenant

API_KEY_PREFIX = "hub"
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # avoid a write on every request


def _hash_key(secret_part: str) -> str:
    return hashlib.sha256(secret_part.encode()).hexdigest()


def tenant_create(*, slug: str, name: str) -> Tenant:
    if Tenant.objects.filter(slug=slug).exists():
        raise ApplicationError(f"tenant '{slug}' already exists", status=409, code="tenant_exists")
    return Tenant.objects.create(slug=slug, name=name)


def membership_grant(*, tenant: Tenant, user, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ApplicationError(f"role must be one of {', '.join(Membership.Role.values)}", code="invalid_role")
    membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})
    if not user.is_staff:
        user.is_staff = True  # tenant admins and members reach their settings through the admin
        user.save(update_fields=["is_staff"])
    return membership


def tenant_user_create(*, tenant: Tenant, username: str, password: str, role: str):
    User = get_user_model()
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.is_staff = True
        user.save()
        membership_grant(tenant=tenant, user=user, role=role)
    return user


def api_key_create(*, tenant: Tenant, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never available again."""
    bad = [s for s in scopes if not is_valid_grant(s)]
    if bad:
        raise ApplicationError(f"unknown scope(s): {', '.join(bad)}", code="invalid_scope",
                               extra={"errors": {"scopes": [f"unknown scope '{s}'" for s in bad]}})
    if not scopes:
        raise ApplicationError("at least one scope is required", code="invalid_scope")
    prefix = pysecrets.token_hex(4)
    secret_part = pysecrets.token_urlsafe(32)
    key = ApiKey.objects.create(tenant=tenant, name=name, prefix=prefix,
                                key_hash=_hash_key(secret_part), scopes=list(scopes))
    return key, f"{API_KEY_PREFIX}_{prefix}_{secret_part}"


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    _, prefix, secret_part = parts
    key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if key is None or not key.is_active or not key.tenant.is_active:
        return None
    if not pysecrets.compare_digest(key.key_hash, _hash_key(secret_part)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, tenant: Tenant, api_key_id) -> ApiKey:
    key = ApiKey.objects.for_tenant(tenant).filter(pk=api_key_id).first()
    if key is None:
        raise NotFound("API key not found")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
