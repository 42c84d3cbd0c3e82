"""Writes to the local store and resolution of refs at call time.

Resolved values are cached briefly in this process only (settings.SECRETS_CACHE_SECONDS),
keyed by tenant and ref, and registered with the log redactor the moment they are read.
"""
from __future__ import annotations

import os

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from adapters.redaction import register_secret
from integrations.errors import ApplicationError, Conflict
from integrations.models import LocalSecret, Tenant
from integrations.secrets.cache import SecretCache
from integrations.secrets.errors import SecretNotFound
from integrations.secrets.keyvault import keyvault_fetch
from integrations.secrets.local import local_encrypt, local_fetch
from integrations.secrets.refs import LOCAL_NAME, SecretRef, parse_ref

MAX_VALUE_BYTES = 64 * 1024
# Two writers racing for the same next version: the unique constraint lets one win and the
# other reads the new maximum and tries again. A handful of rounds covers real contention.
_WRITE_ATTEMPTS = 8

_cache = SecretCache()


def _invalid(field: str, detail: str, rule: str) -> ApplicationError:
    return ApplicationError(detail, code="invalid", extra={"errors": {field: [rule]}})


def _validate_write(*, name: str, value: str) -> None:
    # Messages state the rule only: a rejected value is never echoed.
    if not isinstance(name, str) or not LOCAL_NAME.fullmatch(name):
        raise _invalid("name", "the secret name must be 1-128 letters, digits, hyphens or underscores",
                       "must match [A-Za-z0-9_-]{1,128}")
    if not isinstance(value, str) or not value:
        raise _invalid("value", "the secret value must be a non-empty string", "must be a non-empty string")
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise _invalid("value", f"the secret value is larger than {MAX_VALUE_BYTES} bytes",
                       f"must be at most {MAX_VALUE_BYTES} bytes")


def local_secret_write(*, tenant: Tenant, name: str, value: str) -> LocalSecret:
    """Store `value` as the next version of the tenant's secret `name` and return the row."""
    _validate_write(name=name, value=value)
    for _ in range(_WRITE_ATTEMPTS):
        try:
            with transaction.atomic():
                latest = (LocalSecret.objects.for_tenant(tenant).filter(name=name)
                          .aggregate(latest=Max("version"))["latest"]) or 0
                version = latest + 1
                row = LocalSecret.objects.create(
                    tenant=tenant, name=name, version=version,
                    ciphertext=local_encrypt(tenant_id=tenant.pk, name=name, version=version, value=value))
        except IntegrityError:
            continue
        # The versionless ref now means this version; drop what this process cached for it.
        cache_key = (str(tenant.pk), f"local://{name}")
        transaction.on_commit(lambda: _cache.discard(cache_key))
        return row
    raise Conflict(f"local://{name} is being written concurrently; try again")


def secret_store(*, tenant: Tenant, name: str, value: str) -> str:
    """Store a new version of a local secret and return its versionless ref, `local://<name>`."""
    row = local_secret_write(tenant=tenant, name=name, value=value)
    return f"local://{row.name}"


def secret_resolve(*, tenant: Tenant, ref: str) -> str:
    """The plaintext behind `ref` for `tenant`.

    Raises SecretRefInvalid (400), SecretNotFound (400) or SecretBackendUnavailable (503).
    A local:// ref sees only the tenant's own secrets.
    """
    parsed = parse_ref(ref)
    cache_key = (str(tenant.pk), str(parsed))
    value = _cache.get(cache_key)
    if value is not None:
        return value
    value = _fetch(tenant=tenant, ref=parsed)
    register_secret(value)
    _cache.put(cache_key, value, ttl_seconds=settings.SECRETS_CACHE_SECONDS)
    return value


def secret_cache_clear() -> None:
    """Forget every cached value in this process (after a rotation, or between tests)."""
    _cache.clear()


def _fetch(*, tenant: Tenant, ref: SecretRef) -> str:
    if ref.scheme == "local":
        return local_fetch(tenant=tenant, ref=ref)
    if ref.scheme == "kv":
        return keyvault_fetch(ref=ref)
    return _env_fetch(ref=ref)


def _env_fetch(*, ref: SecretRef) -> str:
    value = os.environ.get(ref.name)
    if not value:
        raise SecretNotFound(f"{ref} is not set (or is empty) in this process's environment")
    return value
