"""The Fortnox story of issue 8: a nightly scheduled push of 142 invoices reaches Fortnox as 142
valid requests, usage shows 142 requests and 0 errors, the next run pushes nothing, and the
notifications Fortnox sends about our own writes come back through the real inbound webhook
view and are ignored as echoes."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from adapters.signing import generate_standard_webhooks_secret
from config.celery import app
from integrations.lifecycle import Status
from integrations.models import OutboxEvent
from integrations.secrets.services import secret_store
from sync.models import SyncLogEntry, SyncRun
from tests.sync.factories import accounting_integration, invoices
from webhooks.models import InboundEvent, WebhookSource

pytestmark = pytest.mark.django_db(transaction=True)
MAPPING = {"license_fees": "3010", "tournament_fees": "3020"}


def _run_scheduled(periodic_task: PeriodicTask) -> None:
    """What beat does when the schedule comes due: run the task the PeriodicTask names."""
    app.loader.import_default_modules()  # the task modules a worker imports at start
    app.tasks[periodic_task.task].apply(kwargs=json.loads(periodic_task.kwargs))


def test_a_nightly_push_of_142_invoices_reaches_fortnox_once_and_its_echoes_are_ignored(
        api, tenant, fortnox_sandbox, live_server, event_relay, settings):
    # Given an active Fortnox integration mapping license fees to 3010 and tournament fees to 3020,
    # Fortnox knowing the clubs as customers, and 142 invoices in the hub
    integration = accounting_integration(tenant, "fortnox", access_token=fortnox_sandbox.access_token,
                                         mapping=MAPPING)
    for number in range(100, 112):
        fortnox_sandbox.customers[str(number)] = {"CustomerNumber": str(number), "Name": f"Klubb {number}"}
    invoices(tenant, 142)

    # When the nightly push is scheduled through the API and beat runs the task it names
    answer = api.post("/api/v1/sync/schedules/", {"integration_type": "accounting/fortnox", "scope": "invoices",
                                                  "cron": "0 2 * * *", "timezone": "Europe/Stockholm"}, format="json")
    assert answer.status_code == 201, answer.json()
    schedule = answer.json()
    periodic_task = PeriodicTask.objects.get(pk=schedule["periodic_task"]["id"])
    assert (schedule["cron"], schedule["timezone"], periodic_task.task, periodic_task.enabled) == (
        "0 2 * * *", "Europe/Stockholm", "sync.tasks.sync_scheduled", True)
    _run_scheduled(periodic_task)

    # Then Fortnox received 142 valid invoice requests, each row on the mapped account
    posts = [r for r in fortnox_sandbox.requests if (r.method, r.path) == ("POST", "/3/invoices")]
    assert (len(fortnox_sandbox.requests), len(posts), {r.status for r in posts}) == (142, 142, {201})
    assert fortnox_sandbox.violations == []
    assert {row["AccountNumber"] for invoice in fortnox_sandbox.invoices.values()
            for row in invoice["InvoiceRows"]} == {3010, 3020}
    assert sorted(i["ExternalInvoiceReference1"] for i in fortnox_sandbox.invoices.values()) == [
        f"INV-{n:05d}" for n in range(1, 143)]
    first = SyncRun.objects.get()
    assert (first.state, first.trigger, first.scope, first.read_count, first.created_count, first.failed_count) == (
        "succeeded", "schedule", "invoices", 142, 142, 0)
    usage = api.get(f"/api/v1/integrations/accounting/{integration.pk}/usage/").json()["totals"]
    assert (usage["requests"], usage["errors"]) == (142, 0)
    completed = OutboxEvent.objects.get(event_type="sync.completed")
    assert completed.data["counts"] == {"read": 142, "created": 142, "updated": 0, "skipped": 0, "failed": 0}

    # When the schedule comes due again, nothing changed: nothing is pushed
    _run_scheduled(periodic_task)
    second = SyncRun.objects.exclude(pk=first.pk).get()
    assert (second.state, second.read_count, second.skipped_count, second.created_count) == ("succeeded", 142, 142, 0)
    assert len(fortnox_sandbox.requests) == 142

    # When Fortnox announces the 142 invoices the hub created, through the real inbound view
    secret = generate_standard_webhooks_secret()
    source = WebhookSource.objects.create(
        tenant=tenant, family="sync", provider="fortnox", display_name="Fortnox events relay",
        status=Status.ACTIVE, webhook_signing_key_ref=secret_store(tenant=tenant, name="fortnox-relay", value=secret))
    settings.PUBLIC_BASE_URL = live_server.url
    answers = event_relay(f"{live_server.url}/webhooks/fortnox/{source.pk}/", secret, fortnox_sandbox.events)

    # Then every one is stored once and ignored as our own echo
    assert [a.status_code for a in answers] == [200] * 142
    events = InboundEvent.objects.filter(provider="fortnox")
    assert (events.count(), set(events.values_list("status", flat=True))) == (142, {"ignored"})
    assert not SyncLogEntry.objects.filter(remote_updated_at__isnull=False).exists()

    # And a change someone makes in Fortnox a day later is not an echo: it is noted on the log
    later = {**fortnox_sandbox.events[0], "offset": "9" * 19, "type": "invoice-updated-v1",
             "timestamp": (timezone.now() + timedelta(days=1)).isoformat()}
    assert event_relay(f"{live_server.url}/webhooks/fortnox/{source.pk}/", secret, [later])[0].status_code == 200
    assert InboundEvent.objects.get(external_id__contains="", vendor_type="invoice-updated-v1").status == "handled"
    changed = SyncLogEntry.objects.get(record_type="invoice", remote_id=later["entityId"])
    assert changed.remote_updated_at is not None
