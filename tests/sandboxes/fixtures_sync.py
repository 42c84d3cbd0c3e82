"""pytest fixtures for the sync's sandboxes, loaded by `pytest_plugins` in tests/conftest.py.

Dynamics 365, Cornerstone, Consio and the hub ERP interface each get a sandbox started for one
test through `sandbox_factory` (a request that breaks the provider's description fails the
test), with the hub pointed at it. `event_relay` posts a sandbox's change notifications to the
hub's real inbound webhook view over HTTP, signed the way the configured scheme requires.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from adapters.signing import standard_webhooks_sign
from tests.sandboxes.consio import ConsioSandbox
from tests.sandboxes.cornerstone import CornerstoneSandbox
from tests.sandboxes.dynamics365 import DynamicsSandbox
from tests.sandboxes.hub_erp import HubErpSandbox


@pytest.fixture
def dynamics_sandbox(sandbox_factory, monkeypatch, settings) -> DynamicsSandbox:
    """The tenant's Dataverse environment and its Entra token endpoint; the environment URL is
    `dynamics_sandbox.url`, the client `client_id`/`client_secret`."""
    settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = True
    sandbox = sandbox_factory(DynamicsSandbox)
    monkeypatch.setenv("PROVIDER_DYNAMICS365_TOKEN_URL", f"{sandbox.url}/{{tenant}}/oauth2/v2.0/token")
    return sandbox


@pytest.fixture
def cornerstone_sandbox(sandbox_factory, settings) -> CornerstoneSandbox:
    """A Cornerstone portal (token endpoint and Transcript API) at `cornerstone_sandbox.url`."""
    settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = True
    return sandbox_factory(CornerstoneSandbox)


@pytest.fixture
def consio_sandbox(sandbox_factory, settings) -> ConsioSandbox:
    settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = True
    return sandbox_factory(ConsioSandbox)


@pytest.fixture
def hub_erp_sandbox(sandbox_factory, settings) -> HubErpSandbox:
    """An outside ERP implementing docs/provider-interfaces/erp.openapi.json."""
    settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = True
    return sandbox_factory(HubErpSandbox)


@pytest.fixture
def event_relay() -> Callable[..., list[httpx.Response]]:
    """`event_relay(url, secret, messages)`: post each message to the hub's inbound view, signed
    with Standard Webhooks under `secret`, as the relay of a provider's notifications does."""

    def relay(url: str, secret: str, messages: list[dict]) -> list[httpx.Response]:
        answers = []
        with httpx.Client(timeout=10) as client:
            for message in messages:
                body = json.dumps(message).encode()
                msg_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
                headers = {"Content-Type": "application/json", "webhook-id": msg_id,
                           "webhook-timestamp": str(timestamp),
                           "webhook-signature": standard_webhooks_sign(secret, msg_id, timestamp, body)}
                answers.append(client.post(url, content=body, headers=headers))
        return answers

    return relay


def _sync_schedule_rows(tenant, rows: dict) -> list:
    """The isolation walker's row of a SyncSchedule: its PeriodicTask needs a timing, which the
    generic builder cannot invent."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from integrations.models import Integration
    from sync.models import SyncSchedule

    crontab, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="2", day_of_month="*", month_of_year="*",
                                                       day_of_week="*")
    task = PeriodicTask.objects.create(name=f"sync isolation {tenant.slug} {uuid.uuid4()}",
                                       task="sync.tasks.sync_scheduled", crontab=crontab)
    return [SyncSchedule.objects.create(tenant=tenant, integration=rows[Integration][0], scope="accounting",
                                        periodic_task=task)]


def _register_isolation_builders() -> None:
    from tests.test_isolation import ISOLATION_FACTORIES

    ISOLATION_FACTORIES["sync.SyncSchedule"] = _sync_schedule_rows


_register_isolation_builders()
