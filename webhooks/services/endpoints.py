"""Tenant webhook endpoints: create, change, rotate the signing secret, disable, delete.

Secrets are generated here and stored only in the secret store; the endpoint keeps versioned
refs. The v1 secret (or, for v1a, the public key the receiver verifies with) is returned once,
on create and on rotate. A rotation keeps the previous key signing beside the new one for
settings.WEBHOOK_SECRET_ROTATION_OVERLAP, so receivers can switch without losing a delivery.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adapters.signing import generate_standard_webhooks_ed25519_keypair, generate_standard_webhooks_secret
from integrations.errors import ApplicationError
from integrations.events import EVENT_TYPES, event_emit
from integrations.models import Tenant
from integrations.secrets.services import local_secret_write
from webhooks.models import SigningScheme, WebhookEndpoint
from webhooks.ssrf import target_check

logger = logging.getLogger(__name__)
ALL_EVENTS = "*"


@dataclass(frozen=True)
class IssuedKey:
    """What the receiver needs, shown once: a whsec_ secret (v1) or a whpk_ public key (v1a)."""

    scheme: str
    value: str
    secret_ref: str
    public_key: str


def event_types_validate(event_types: object) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ApplicationError("event_types must be a non-empty list",
                               extra={"errors": {"event_types": ["must be a non-empty list"]}})
    unknown = sorted({str(name) for name in event_types if name != ALL_EVENTS and name not in EVENT_TYPES})
    if unknown:
        raise ApplicationError(f"unknown event types: {', '.join(unknown)}",
                               extra={"errors": {"event_types": [f"unknown: {', '.join(unknown)}"]}})
    return sorted(set(event_types))


def _issue_key(*, tenant: Tenant, endpoint_id, scheme: str) -> IssuedKey:
    name = f"webhook-endpoint-{endpoint_id}"
    if scheme == SigningScheme.V1A:
        private_key, public_key = generate_standard_webhooks_ed25519_keypair()
        row = local_secret_write(tenant=tenant, name=name, value=private_key)
        return IssuedKey(scheme=scheme, value=public_key, secret_ref=f"local://{name}/{row.version}",
                         public_key=public_key)
    secret = generate_standard_webhooks_secret()
    row = local_secret_write(tenant=tenant, name=name, value=secret)
    return IssuedKey(scheme=scheme, value=secret, secret_ref=f"local://{name}/{row.version}", public_key="")


def endpoint_create(*, tenant: Tenant, url: str, event_types: list[str], description: str = "",
                    enabled: bool = True, signing_scheme: str = SigningScheme.V1,
                    rate_limit_per_second: int | None = None) -> tuple[WebhookEndpoint, IssuedKey]:
    target_check(url)
    event_types = event_types_validate(event_types)
    with transaction.atomic():
        endpoint = WebhookEndpoint(tenant=tenant, url=url, description=description, event_types=event_types,
                                   enabled=enabled, signing_scheme=signing_scheme,
                                   rate_limit_per_second=rate_limit_per_second)
        key = _issue_key(tenant=tenant, endpoint_id=endpoint.pk, scheme=signing_scheme)
        endpoint.secret_ref, endpoint.public_key = key.secret_ref, key.public_key
        endpoint.save()
    return endpoint, key


def endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change url, description, event_types, enabled or rate_limit_per_second. Re-enabling a
    disabled endpoint clears why it was disabled and starts its failure clock afresh."""
    if "url" in changes:
        target_check(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = event_types_validate(changes["event_types"])
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if changes.get("enabled") and not endpoint.enabled:
            endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
        for name, value in changes.items():
            setattr(endpoint, name, value)
        endpoint.save()
    return endpoint


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, signing_scheme: str | None = None) -> tuple[
        WebhookEndpoint, IssuedKey]:
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        scheme = signing_scheme or endpoint.signing_scheme
        key = _issue_key(tenant=endpoint.tenant, endpoint_id=endpoint.pk, scheme=scheme)
        endpoint.previous_secret_ref, endpoint.previous_public_key = endpoint.secret_ref, endpoint.public_key
        endpoint.previous_secret_expires_at = timezone.now() + settings.WEBHOOK_SECRET_ROTATION_OVERLAP
        endpoint.secret_ref, endpoint.public_key, endpoint.signing_scheme = key.secret_ref, key.public_key, scheme
        endpoint.save()
    logger.info("webhook endpoint secret rotated", extra={"endpoint_id": str(endpoint.pk)})
    return endpoint, key


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_disable(*, endpoint_id, reason: str) -> bool:
    """Disable an endpoint and tell the tenant (through its other endpoints). Returns whether
    it was enabled. Runs in the caller's transaction when there is one."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id, enabled=True).first()
        if endpoint is None:
            return False
        endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:500], timezone.now()
        endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])
        endpoint_notify(endpoint=endpoint, event_type="webhook_endpoint.disabled", reason=reason)
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": str(endpoint_id), "reason": reason})
    return True


def endpoint_notify(*, endpoint: WebhookEndpoint, event_type: str, **data) -> None:
    """Emit a webhook_endpoint.* event. Fan-out never delivers it to the endpoint it is about,
    so a failing endpoint cannot feed itself a loop of failure notices."""
    event_emit(tenant_id=endpoint.tenant_id, event_type=event_type,
               data={"endpoint_id": str(endpoint.pk), "url": endpoint.url, **data})
