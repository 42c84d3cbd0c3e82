"""Which config receives a webhook, and with which verification secrets.

`SECRET_FIELDS` is the one table saying where each provider's keys live on its config: the
`*_ref` field names on the config model (the family or communication config that owns the
provider), tried in order, the first non-empty one winning. The trailing generic names are
those of `WebhookSource`, through which any scheme can be received.

Receiving states: `active`, `paused` and `error` configs receive (pausing stops what the hub
sends, not what the provider reports; `error` is about our outbound credentials), `draft`
and `decommissioned` answer 404 like an unknown id.

Resolved receivers are cached per process for settings.WEBHOOK_CONFIG_CACHE_SECONDS, misses
included, so a flood of posts costs no database round trip for the lookup. Secrets stay in
this process's memory only, as `integrations.secrets` already does.
"""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings

from adapters.inbound import VerificationSecrets
from integrations.lifecycle import Status
from integrations.models import Integration
from integrations.secrets.errors import SecretBackendUnavailable

RECEIVING_STATUSES = frozenset({Status.ACTIVE.value, Status.PAUSED.value, Status.ERROR.value})
_SIGNING = "webhook_signing_key_ref"
_PUBLIC = "webhook_public_key_ref"
_VERIFY_TOKEN = "webhook_verify_token_ref"
_URL_TOKEN = "webhook_url_token_ref"

# provider -> VerificationSecrets attribute -> config ref fields, first non-empty wins.
SECRET_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "stripe": {"signing_key": (_SIGNING,)},
    "sendgrid": {"public_key": (_SIGNING, _PUBLIC)},  # SendGrid's key is a public ECDSA key
    "mailgun": {"signing_key": (_SIGNING,)},
    "twilio": {"signing_key": ("auth_token_ref", _SIGNING)},  # Twilio signs with the Auth Token
    "whatsapp": {"signing_key": ("app_secret_ref", _SIGNING), "verify_token": (_VERIFY_TOKEN,)},
    "mux": {"signing_key": (_SIGNING,)},
    "xero": {"signing_key": (_SIGNING,)},
    "fortnox": {"signing_key": (_SIGNING,)},  # the relay signs with Standard Webhooks
    "ziggy": {"signing_key": (_SIGNING,)},
    "elks46": {"url_token": ("webhook_token_ref", _URL_TOKEN)},  # ElksConfig's own name first
    "generic": {"signing_key": (_SIGNING,), "public_key": (_PUBLIC,)},
    "generic_hub_sha1": {"signing_key": (_SIGNING,)},
}
_MAX_CACHED = 4096


@dataclass(frozen=True)
class Receiver:
    """A config able to receive, with its secrets resolved."""

    integration_id: uuid.UUID
    tenant_id: uuid.UUID
    provider: str
    secrets: VerificationSecrets
    # Source networks allowed to post (46elks), or None for any address.
    allowed_networks: tuple[str, ...] | None = None
    # A secret that could not be resolved: the request is refused without verifying.
    unresolved: str = ""
    backend_unavailable: bool = False


class _ReceiverCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, uuid.UUID], tuple[float, Receiver | None]] = {}
        self._lock = threading.Lock()

    def get(self, key) -> tuple[bool, Receiver | None]:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key, receiver: Receiver | None, ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= _MAX_CACHED:
                self._entries.clear()  # crude, but bounded: a flood of random ids cannot grow it
            self._entries[key] = (time.monotonic() + ttl, receiver)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _ReceiverCache()


def receiver_cache_clear() -> None:
    """Forget every cached receiver (tests; after a config change that must apply at once)."""
    _cache.clear()


def receiver_get(*, provider: str, config_id: uuid.UUID) -> Receiver | None:
    """The receiving config `config_id` of `provider`, or None (unknown, other provider, or
    not in a receiving state)."""
    key = (provider, config_id)
    ttl = settings.WEBHOOK_CONFIG_CACHE_SECONDS
    if ttl > 0:
        found, receiver = _cache.get(key)
        if found:
            return receiver
    receiver = _load(provider=provider, config_id=config_id)
    # A secret backend outage is not remembered: the next request tries again.
    if ttl > 0 and not (receiver and receiver.backend_unavailable):
        _cache.put(key, receiver, ttl)
    return receiver


def _load(*, provider: str, config_id: uuid.UUID) -> Receiver | None:
    integration = (Integration.objects.select_related("tenant")
                   .filter(pk=config_id, provider=provider, status__in=RECEIVING_STATUSES).first())
    if integration is None:
        return None
    config = integration.specific()
    secrets, unresolved, unavailable = _resolve_secrets(provider=provider, config=config,
                                                        tenant=integration.tenant)
    return Receiver(integration_id=integration.pk, tenant_id=integration.tenant_id, provider=provider,
                    secrets=secrets, allowed_networks=_allowed_networks(provider, config),
                    unresolved=unresolved, backend_unavailable=unavailable)


def _resolve_secrets(*, provider: str, config, tenant) -> tuple[VerificationSecrets, str, bool]:
    from integrations.errors import ApplicationError
    from integrations.secrets.services import secret_resolve

    values: dict[str, str] = {}
    for attribute, fields in SECRET_FIELDS.get(provider, {}).items():
        for field in fields:
            ref = getattr(config, field, "") or ""
            if not ref:
                continue
            try:
                values[attribute] = secret_resolve(tenant=tenant, ref=ref)
            except SecretBackendUnavailable:
                return VerificationSecrets(), field, True
            except ApplicationError:
                return VerificationSecrets(), field, False
            break
    return VerificationSecrets(**values), "", False


def _allowed_networks(provider: str, config) -> tuple[str, ...] | None:
    if provider != "elks46":
        return None
    networks = getattr(config, "webhook_allowed_networks", None) or settings.WEBHOOK_ELKS46_ALLOWED_NETWORKS
    return tuple(str(network) for network in networks) or None
