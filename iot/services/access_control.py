"""The access-control port: calls to the tenant's Ziggy integration, through the resilience
wrapper (breaker shared per config, usage counted), with pooled clients.

A reader waiting for its answer bounds the call: the client's timeout is the time the reader
has left, rounded down to a quarter second so a handful of pooled clients serve every budget.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from adapters.providers import ziggy
from adapters.resilience import RetryPolicy
from integrations.lifecycle import Status
from integrations.secrets.services import secret_resolve
from integrations.services.calls import integration_call
from iot.families import ziggy_config
from iot.models import ZiggyIntegration

# A reader's answer cannot wait for a retry; API callers get one quick one.
READER_POLICY = RetryPolicy(attempts=1)
API_POLICY = RetryPolicy(attempts=2, initial_wait=0.2, max_wait=1.0)
_BUDGET_STEP_SECONDS = 0.25
_MAX_CLIENTS = 64

_clients: OrderedDict = OrderedDict()
_clients_lock = threading.Lock()


class AccessControlNotConfigured(Exception):
    """The tenant has no active access-control integration."""


class ReaderDeadlinePassed(Exception):
    """Too little of the reader's timeout is left to ask Ziggy. Raised before the call, so our
    own queueing never counts against Ziggy's circuit breaker."""


# Which config serves a tenant is looked up once per IOT_ACCESS_CONFIG_CACHE_SECONDS per
# process: scans come in bursts, and pausing or editing a config may take that long to apply.
_integrations: dict = {}


def access_integration(*, tenant_id) -> ZiggyIntegration:
    cached = _integrations.get(tenant_id)
    if cached is not None and cached[0] > time.monotonic():
        integration = cached[1]
    else:
        integration = (ZiggyIntegration.objects.filter(tenant_id=tenant_id, status=Status.ACTIVE.value)
                       .select_related("tenant").order_by("-created_at").first())
        _integrations[tenant_id] = (time.monotonic() + settings.IOT_ACCESS_CONFIG_CACHE_SECONDS, integration)
    if integration is None:
        raise AccessControlNotConfigured(f"tenant {tenant_id} has no active access-control integration")
    return integration


def access_integrations_forget() -> None:
    """Forget the cached configs (tests; a change that must apply at once in this process)."""
    _integrations.clear()


def _client(integration: ZiggyIntegration, timeout_seconds: float | None) -> ziggy.ZiggyClient:
    # A budget beyond the config's own timeout is the config's client: a long reader timeout
    # must not make a new client (and TLS context) per scan.
    if timeout_seconds is not None and timeout_seconds >= integration.timeout_seconds:
        timeout_seconds = None
    # Keyed by the config's last change, so an edited key or host gets a fresh client.
    key = (integration.pk, integration.config_changed_at, timeout_seconds)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
    config = ziggy_config(integration, lambda ref: secret_resolve(tenant=integration.tenant, ref=ref),
                          timeout_seconds=timeout_seconds)
    client = ziggy.ZiggyClient(config)
    with _clients_lock:
        _clients[key] = client
        while len(_clients) > _MAX_CLIENTS:
            # Not closed: another thread may be mid-request on it; the pool closes when collected.
            _clients.popitem(last=False)
    return client


def _budgeted_timeout(budget_seconds: float | None) -> float | None:
    if budget_seconds is None:
        return None
    steps = math.floor(budget_seconds / _BUDGET_STEP_SECONDS)
    if steps < 1:
        raise ReaderDeadlinePassed(f"{budget_seconds:.2f} s left of the reader's timeout")
    return steps * _BUDGET_STEP_SECONDS


def check_in(*, integration: ZiggyIntegration, user_id: str, court_id: str, timestamp: datetime,
             device_id: str = "", budget_seconds: float | None = None) -> ziggy.CheckInResult:
    timeout = _budgeted_timeout(budget_seconds)
    return integration_call(
        integration=integration, operation="access.checkin", policy=READER_POLICY if timeout else API_POLICY,
        fn=lambda: _client(integration, timeout).check_in(user_id=user_id, court_id=court_id, timestamp=timestamp,
                                                          device_id=device_id))


def check_out(*, integration: ZiggyIntegration, session_id: str, timestamp: datetime,
              budget_seconds: float | None = None) -> ziggy.CheckOutResult:
    timeout = _budgeted_timeout(budget_seconds)
    return integration_call(
        integration=integration, operation="access.checkout", policy=READER_POLICY if timeout else API_POLICY,
        fn=lambda: _client(integration, timeout).check_out(session_id=session_id, timestamp=timestamp))


def session_detail(*, integration: ZiggyIntegration, session_id: str) -> ziggy.SessionInfo:
    return integration_call(integration=integration, operation="access.session", policy=API_POLICY,
                            fn=lambda: _client(integration, None).session(session_id=session_id))


def active_sessions(*, integration: ZiggyIntegration, court_id: str = "") -> list[ziggy.SessionInfo]:
    return integration_call(integration=integration, operation="access.sessions_active", policy=API_POLICY,
                            fn=lambda: _client(integration, None).active_sessions(court_id=court_id))


def record_consumption(*, integration: ZiggyIntegration, session_id: str, item_id: str, item_name: str,
                       quantity: int, unit_price: Decimal) -> ziggy.ConsumptionInfo:
    return integration_call(
        integration=integration, operation="consumption.record", policy=RetryPolicy(attempts=1),
        fn=lambda: _client(integration, None).record_consumption(
            session_id=session_id, item_id=item_id, item_name=item_name, quantity=quantity, unit_price=unit_price))


def consumption_history(*, integration: ZiggyIntegration, session_id: str) -> list[ziggy.ConsumptionInfo]:
    return integration_call(integration=integration, operation="consumption.history", policy=API_POLICY,
                            fn=lambda: _client(integration, None).consumption_history(session_id=session_id))
