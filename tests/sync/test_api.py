"""The sync API: one active run per integration (409 with the running one), status and last
result, cancelling, schedules as django-celery-beat rows, exportReimbursements, the hub's records,
processWebhookEvent, refreshOAuthToken, idempotency, and bad input refused with field errors."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from integrations.models import OutboxEvent
from integrations.secrets.services import secret_store
from sync.models import Invoice, Reimbursement, SyncRun, SyncSchedule
from sync.services.runs import sync_run_execute
from tests.sync.factories import accounting_integration, invoices
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db
FORTNOX = {"integration_type": "accounting/fortnox"}


@pytest.fixture
def fortnox(tenant, fortnox_sandbox):
    for number in range(100, 112):
        fortnox_sandbox.customers[str(number)] = {"CustomerNumber": str(number), "Name": f"Klubb {number}"}
    fortnox_sandbox.accounts[2440] = "Leverantörsskulder"
    return accounting_integration(tenant, "fortnox", access_token=fortnox_sandbox.access_token)


def test_a_second_trigger_while_a_run_is_active_answers_409_with_that_run(api, fortnox):
    first = api.post("/api/v1/sync/runs/", {**FORTNOX, "scope": "invoices"}, format="json")  # queued, not yet run

    second = api.post("/api/v1/sync/runs/", {**FORTNOX, "scope": "invoices"}, format="json")

    assert first.status_code == 202 and first.json()["state"] == "queued"
    assert second.status_code == 409
    assert second["Content-Type"] == "application/problem+json"
    assert (second.json()["code"], second.json()["active_run"]["id"]) == ("sync_run_active", first.json()["id"])
    assert SyncRun.objects.count() == 1


def test_status_last_result_and_cancel(api, fortnox, fortnox_sandbox, django_capture_on_commit_callbacks):
    invoices(fortnox.tenant, 3)
    assert api.get("/api/v1/sync/last-result/", FORTNOX).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        done = api.post("/api/v1/sync/runs/", {**FORTNOX, "scope": "invoices"}, format="json").json()
    queued = api.post("/api/v1/sync/runs/", {**FORTNOX, "scope": "invoices"}, format="json").json()

    status = api.get("/api/v1/sync/status/", FORTNOX).json()
    last = api.get("/api/v1/sync/last-result/", FORTNOX).json()
    cancelled = api.post(f"/api/v1/sync/runs/{queued['id']}/cancel/").json()

    assert (status["status"], status["active_run"]["id"], status["last_run"]["id"]) == (
        "active", queued["id"], done["id"])
    assert status["records"] == {"synced": 3, "pending": 0, "failed": 0, "exported": 0}
    assert (last["id"], last["state"], last["counts"]["created"], last["errors"]) == (done["id"], "succeeded", 3, [])
    assert cancelled["state"] == "cancelled"
    assert OutboxEvent.objects.filter(event_type="sync.failed", data__state="cancelled").count() == 1
    assert api.post(f"/api/v1/sync/runs/{queued['id']}/cancel/").status_code == 409


def test_a_running_run_asked_to_cancel_stops_at_its_next_heartbeat(tenant, fortnox, fortnox_sandbox):
    invoices(tenant, 5)
    run = SyncRun.objects.create(tenant=tenant, integration=fortnox, scope="invoices", trigger="api", started_by="t",
                                 cancel_requested=True)

    finished = sync_run_execute(run_id=run.pk)

    assert (finished.state, finished.created_count) == ("cancelled", 0)
    assert fortnox_sandbox.requests == []


def test_schedules_are_periodic_tasks_and_cancel_removes_them(api, other_api, fortnox):
    created = api.post("/api/v1/sync/schedules/", {**FORTNOX, "scope": "accounting", "cron": "30 1 * * 1-5"},
                       format="json")
    assert created.status_code == 201, created.json()
    schedule = created.json()
    task = PeriodicTask.objects.get(pk=schedule["periodic_task"]["id"])
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "1", "1-5")
    assert task.kwargs == f'{{"integration_id": "{fortnox.pk}", "scope": "accounting"}}'
    duplicate = api.post("/api/v1/sync/schedules/", {**FORTNOX, "scope": "accounting", "cron": "0 3 * * *"},
                         format="json")
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "schedule_exists")
    assert other_api.delete(f"/api/v1/sync/schedules/{schedule['id']}/").status_code == 404
    assert api.get("/api/v1/sync/schedules/").json()["results"][0]["cron"] == "30 1 * * 1-5"

    assert api.delete(f"/api/v1/sync/schedules/{schedule['id']}/").status_code == 204

    assert not PeriodicTask.objects.filter(pk=task.pk).exists() and not SyncSchedule.objects.exists()
    assert CrontabSchedule.objects.filter(minute="30").exists()  # shared timings stay for other tasks


@pytest.mark.parametrize(("body", "field"), [
    ({**FORTNOX, "scope": "invoices", "cron": "61 * * * *"}, "cron"),
    ({**FORTNOX, "scope": "invoices", "cron": "0 2 * *"}, "cron"),
    ({**FORTNOX, "scope": "invoices", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({**FORTNOX, "scope": "members", "cron": "0 2 * * *"}, "scope"),
    ({**FORTNOX, "scope": "invoices", "cron": "0 2 * * *", "every": "night"}, "every"),
    ({"integration_type": "accounting", "scope": "invoices", "cron": "0 2 * * *"}, "integration_type"),
])
def test_bad_schedules_are_refused_with_field_errors(api, fortnox, body, field):
    answer = api.post("/api/v1/sync/schedules/", body, format="json")

    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["errors"]
    assert not PeriodicTask.objects.filter(task="sync.tasks.sync_scheduled").exists()


@pytest.mark.parametrize(("body", "status"), [
    ({"integration_type": "accounting/xero"}, 404),  # no such integration in this organisation
    ({**FORTNOX, "scope": "enrollments"}, 400),
    ({**FORTNOX, "record_ids": ["not-a-uuid"]}, 400),
    ({**FORTNOX, "mode": "fax"}, 400),
    ({**FORTNOX, "tenant": "someone-else"}, 400),
])
def test_bad_triggers_change_nothing(api, fortnox, body, status):
    assert api.post("/api/v1/sync/runs/", body, format="json").status_code == status
    assert not SyncRun.objects.exists()


def test_a_paused_integration_does_not_sync(api, fortnox):
    type(fortnox).objects.filter(pk=fortnox.pk).update(status="paused")

    answer = api.post("/api/v1/sync/runs/", FORTNOX, format="json")

    assert (answer.status_code, answer.json()["integration_status"]) == (409, "paused")


def test_runs_of_another_organisation_answer_404(api, other_api, fortnox):
    run = api.post("/api/v1/sync/runs/", FORTNOX, format="json").json()

    assert other_api.get(f"/api/v1/sync/runs/{run['id']}/").status_code == 404
    assert other_api.post(f"/api/v1/sync/runs/{run['id']}/cancel/").status_code == 404
    assert other_api.get(f"/api/v1/sync/runs/{run['id']}/export.csv").status_code == 404
    assert other_api.get("/api/v1/sync/runs/").json()["results"] == []


def test_the_same_idempotency_key_starts_one_run(api, fortnox):
    first = api.post("/api/v1/sync/runs/", FORTNOX, format="json", HTTP_IDEMPOTENCY_KEY="nightly-2026-03-01")
    again = api.post("/api/v1/sync/runs/", FORTNOX, format="json", HTTP_IDEMPOTENCY_KEY="nightly-2026-03-01")

    assert (first.status_code, again.status_code, again.json()["id"]) == (202, 202, first.json()["id"])


def test_export_reimbursements_takes_approved_ones_only(api, tenant, fortnox, fortnox_sandbox,
                                                        django_capture_on_commit_callbacks):
    approved, waiting = (Reimbursement.objects.create(
        tenant=tenant, reference=f"R-{n}", payee_name="Per", description="Tåg", category="travel_expenses",
        amount=Decimal("100.00"), currency="SEK", incurred_on=date(2026, 3, 4), approved=n == 1) for n in (1, 2))
    refused = api.post("/api/v1/sync/reimbursements/export/",
                       {**FORTNOX, "reimbursement_ids": [str(approved.pk), str(waiting.pk)]}, format="json")
    assert (refused.status_code, refused.json()["errors"]["reimbursement_ids"]) == (
        400, [f"not approved: {waiting.pk}"])
    assert api.post(f"/api/v1/sync/reimbursements/{waiting.pk}/approve/").json()["approved"] is True

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/sync/reimbursements/export/", {**FORTNOX, "reimbursement_ids": [str(waiting.pk)]},
                          format="json")

    assert (answer.status_code, answer.json()["scope"]) == (202, "reimbursements")
    assert [v["Description"] for v in fortnox_sandbox.vouchers.values()] == ["Tåg (R-2)"]


def test_invoices_are_created_with_lines_and_bad_ones_refused(api, other_api):
    body = {"number": "INV-1", "customer_number": "100", "customer_name": "Klubb", "issue_date": "2026-03-01",
            "due_date": "2026-03-31", "currency": "sek", "lines": [
                {"description": "Licens", "category": "license_fees", "quantity": "1", "unit_price": "450.00",
                 "vat_rate": "0"}]}
    created = api.post("/api/v1/sync/invoices/", body, format="json")
    assert created.status_code == 201, created.json()
    assert (created.json()["currency"], created.json()["lines"][0]["category"]) == ("SEK", "license_fees")
    assert api.post("/api/v1/sync/invoices/", body, format="json").status_code == 409
    assert other_api.get(f"/api/v1/sync/invoices/{created.json()['id']}/").status_code == 404
    for bad, field in (({"currency": "XXY"}, "currency"), ({"due_date": "2026-02-01"}, "due_date"),
                       ({"lines": []}, "lines"), ({"lines": [{**body["lines"][0], "category": "beer"}]}, "lines"),
                       ({"lines": [{**body["lines"][0], "vat_rate": "125"}]}, "lines"), ({"owner": "x"}, "owner")):
        answer = api.post("/api/v1/sync/invoices/", {**body, "number": "INV-2", **bad}, format="json")
        assert answer.status_code == 400 and field in answer.json()["errors"], (bad, answer.json())
    assert Invoice.objects.count() == 1


def test_process_webhook_event_stores_once_and_ignores_our_echo(api, tenant, fortnox, fortnox_sandbox,
                                                                django_capture_on_commit_callbacks):
    invoices(tenant, 1)
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/sync/runs/", {**FORTNOX, "scope": "invoices"}, format="json")
    body = {"source": str(fortnox.pk), "payload": fortnox_sandbox.events[0]}

    with django_capture_on_commit_callbacks(execute=True):
        stored = api.post("/api/v1/sync/webhook-events/", body, format="json")
    duplicate = api.post("/api/v1/sync/webhook-events/", body, format="json")
    malformed = api.post("/api/v1/sync/webhook-events/", {**body, "payload": {"topic": "invoices"}}, format="json")

    assert (stored.status_code, stored.json()["stored"], duplicate.json()["duplicates"]) == (202, 1, 1)
    assert InboundEvent.objects.get().status == "ignored"
    assert (malformed.status_code, "payload" in malformed.json()["errors"]) == (400, True)


def test_refresh_token_of_an_api_token_integration_is_refused(api, tenant):
    accounting_integration(tenant, "xledger", api_key_ref=secret_store(tenant=tenant, name="x", value="t"))

    answer = api.post("/api/v1/sync/oauth/refresh/", {"integration_type": "accounting/xledger"}, format="json")

    assert (answer.status_code, answer.json()["code"]) == (400, "not_refreshable")


def test_the_celery_tasks_reach_the_same_services(tenant, fortnox, fortnox_sandbox,
                                                 django_capture_on_commit_callbacks):
    from sync import tasks

    invoices(tenant, 2)
    schedule_id = tasks.schedule_sync.apply(args=[str(tenant.pk), "accounting/fortnox", "invoices", "0 4 * * *"]).get()
    with django_capture_on_commit_callbacks(execute=True):
        run_id = tasks.sync_trigger.apply(args=[str(tenant.pk), "accounting/fortnox", "invoices"]).get()

    result = tasks.get_last_sync_result.apply(args=[str(tenant.pk), "accounting/fortnox"]).get()
    tasks.cancel_scheduled_sync.apply(args=[str(tenant.pk), schedule_id]).get()

    assert (result["run_id"], result["state"], result["counts"]["created"]) == (run_id, "succeeded", 2)
    assert not SyncSchedule.objects.exists() and not PeriodicTask.objects.filter(task="sync.tasks.sync_scheduled")
