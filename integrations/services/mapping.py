"""Geocoding through a mapping integration, within each API key's domain allowlist and budget.

Per-key budgets are monthly (calendar month, UTC) counters in Django's cache: Redis in a real
deployment, where INCR is atomic across every web and worker process, so concurrent callers
never overspend and never wait on a database row. UsageDaily cannot hold them: it counts per
integration, not per key, and it is written after a call, while a budget must be reserved
before the call reaches the provider. The cost of the cache is durability: a flushed Redis
forgets this month's counts (the integration-wide quota in UsageDaily still applies), and
the embedded default's local-memory cache counts per process. Counts that must survive a
cache flush need a per-key table: (integration, key label, month) -> calls.

A unit is reserved before the call and given back only when no request reached the provider
(an open circuit breaker, the integration's own quota): a call the provider answered counts,
failed or not, as the provider counts it.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.utils import timezone

from adapters.errors import CircuitOpen
from adapters.types import GeocodeResult
from integrations.errors import ApplicationError, Conflict
from integrations.families.mapping import adapter_config, host_allowed
from integrations.lifecycle import Status
from integrations.models import MappingIntegration
from integrations.services.calls import integration_call

_COUNTER_TTL_SECONDS = 40 * 24 * 3600  # outlives its month, then expires by itself


class OriginNotAllowed(ApplicationError):
    status = 403
    code = "origin_not_allowed"
    title = "Origin not allowed for this key"


class KeyBudgetExhausted(ApplicationError):
    status = 429
    code = "key_budget_exhausted"
    title = "Key budget exhausted"


def mapping_key_usage(*, integration: MappingIntegration, key_label: str) -> int:
    """Calls counted against a key's budget this month."""
    return int(cache.get(_counter_key(integration, key_label)) or 0)


def _counter_key(integration: MappingIntegration, key_label: str) -> str:
    month = timezone.now().strftime("%Y-%m")
    label_digest = hashlib.sha256(key_label.encode()).hexdigest()[
        :16
    ]  # labels may hold any character
    return f"hub:mapping-key-usage:{integration.pk}:{label_digest}:{month}"


def _reserve(integration: MappingIntegration, key: dict) -> str | None:
    """Count one call against the key; None when its budget is already spent this month."""
    counter = _counter_key(integration, key["label"])
    cache.add(counter, 0, timeout=_COUNTER_TTL_SECONDS)
    try:
        used = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.add(counter, 1, timeout=_COUNTER_TTL_SECONDS)
        used = 1
    if used > key["usage_budget"]:
        _release(counter)
        return None
    return counter


def _release(counter: str) -> None:
    try:
        cache.decr(counter)
    except ValueError:
        pass  # expired meanwhile: nothing left to give back


def _candidate_keys(
    integration: MappingIntegration, key_label: str | None, origin_host: str | None
) -> list[dict]:
    keys = integration.api_keys
    if key_label is not None:
        keys = [key for key in keys if key["label"] == key_label]
        if not keys:
            raise ApplicationError(
                f"no API key labelled '{key_label}'",
                code="unknown_key",
                extra={"errors": {"key_label": ["no such key"]}},
            )
    allowed = [
        key for key in keys if host_allowed(origin_host or "", key.get("domain_allowlist", []))
    ]
    if not allowed:
        where = f"origin '{origin_host}'" if origin_host else "a call without an origin host"
        raise OriginNotAllowed(
            f"{where} is not in the domain allowlist of "
            + (f"key '{key_label}'" if key_label else "any key of this integration")
        )
    return allowed


def mapping_geocode(
    *,
    integration: MappingIntegration,
    address: str,
    key_label: str | None = None,
    origin_host: str | None = None,
) -> GeocodeResult | None:
    """Geocode `address` with the named key, or the first key whose allowlist admits `origin_host`
    and whose budget has room. Refused (403/429) before any request reaches the provider when the
    origin is not allowed or the budget is spent; None when the provider finds nothing."""
    integration = integration.specific()
    if integration.status != Status.ACTIVE:
        raise Conflict(f"the integration is {integration.status}, not active")
    if not integration.geocoding:
        raise Conflict("geocoding is turned off for this integration")
    if not address or not address.strip():
        raise ApplicationError(
            "the address is empty", extra={"errors": {"address": ["must not be blank"]}}
        )
    for key in _candidate_keys(integration, key_label, origin_host):
        counter = _reserve(integration, key)
        if counter is None:
            continue
        break
    else:
        which = f"key '{key_label}'" if key_label else "every allowed key"
        raise KeyBudgetExhausted(f"the monthly usage budget of {which} is spent")
    return _call(integration, key, counter, address.strip())


def _call(
    integration: MappingIntegration, key: dict, counter: str, address: str
) -> GeocodeResult | None:
    from adapters.providers import google_maps, mapbox
    from integrations.secrets.services import secret_resolve

    adapter = {google_maps.key: google_maps, mapbox.key: mapbox}[integration.provider]
    try:
        config = adapter_config(
            adapter, secret_resolve(tenant=integration.tenant, ref=key["key_ref"])
        )
        return integration_call(
            integration=integration,
            operation="geocode",
            fn=lambda: adapter.geocode(config, address),
        )
    except (
        CircuitOpen,
        ApplicationError,
    ):  # an open breaker, the quota, a ref: nothing reached the provider
        _release(counter)
        raise
