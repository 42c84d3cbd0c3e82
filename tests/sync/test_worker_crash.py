"""A sync run whose Celery worker is killed with SIGKILL mid-run resumes on another worker
without creating anything twice at the provider.

A real `celery -A config worker` runs on the test's PostgreSQL database and Redis broker and
pushes invoices to a Fortnox sandbox that holds each answer for a moment *after* storing the
invoice, so the kill lands in the one window that matters: the invoice exists at Fortnox, the
worker never heard so. Then a new worker starts, the beat sweep (and Redis redelivering the
unacknowledged task) hand the run over once its heartbeat is stale, and the engine looks the
in-doubt invoice up by its reference before creating anything.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from sync.models import SyncLogEntry, SyncRun
from tests.sandboxes.fortnox import FortnoxSandbox
from tests.sync.factories import accounting_integration, invoices

REPO_ROOT = Path(__file__).resolve().parents[2]
INVOICES = 40
STALE_SECONDS = 2


class FortnoxAnsweringSlowly(FortnoxSandbox):
    """Stores each invoice, then waits before answering: a worker killed now leaves it unrecorded."""

    answer_delay = 0.25

    def _create_invoice(self, request):
        answer = super()._create_invoice(request)
        time.sleep(self.answer_delay)
        return answer


def _test_database_url() -> str:
    configured = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(configured._replace(path=f"/{connection.settings_dict['NAME']}"))


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    """A worker in its own session, so SIGKILL to the group takes its pool processes too."""
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [str(celery), "-A", "config", "worker", "--pool=prefork", "--concurrency=2", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"sync-crash-{time.time_ns()}@%h"],
        cwd=REPO_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait(condition, *, timeout: float, what: str, worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            raise AssertionError(f"the worker exited with {worker.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _kill(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


@pytest.fixture
def broker(redis_url):
    from config.celery import app

    app.conf.task_always_eager = False
    app.control.purge()
    yield app
    app.control.purge()
    app.conf.task_always_eager = True


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_run_interrupted_by_a_killed_worker_resumes_without_duplicates(api, tenant, broker, sandbox_factory,
                                                                         settings, tmp_path):
    # Given a Fortnox integration, the clubs known as customers, 40 invoices and a worker
    sandbox = sandbox_factory(FortnoxAnsweringSlowly)
    for number in range(100, 112):
        sandbox.customers[str(number)] = {"CustomerNumber": str(number), "Name": f"Klubb {number}"}
    accounting_integration(tenant, "fortnox", access_token=sandbox.access_token)
    invoices(tenant, INVOICES)
    settings.SYNC_STALE_RUN_SECONDS = STALE_SECONDS  # for the beat sweep run from this process
    env = os.environ | {
        "DATABASE_URL": _test_database_url(), "CELERY_BROKER_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_ALWAYS_EAGER": "false", "PROVIDER_FORTNOX_BASE_URL": sandbox.url, "LOG_FORMAT": "plain",
        "SYNC_HEARTBEAT_SECONDS": "0.2", "SYNC_STALE_RUN_SECONDS": str(STALE_SECONDS),
        "CELERY_VISIBILITY_TIMEOUT": "4"}
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    try:
        # When a run starts and the worker is killed while Fortnox holds an answer
        answer = api.post("/api/v1/sync/runs/", {"integration_type": "accounting/fortnox", "scope": "invoices"},
                          format="json")
        assert answer.status_code == 202, answer.json()
        run_id = answer.json()["id"]
        def in_doubt() -> bool:  # Fortnox has stored an invoice whose answer the worker still waits for
            stored = len(sandbox.invoices)
            return stored >= 15 and stored > SyncLogEntry.objects.filter(state="synced").count()

        _wait(in_doubt, timeout=60, what="an invoice stored at Fortnox but not yet answered", worker=worker, log=log)
        _kill(worker)
        created_before_kill = len(sandbox.invoices)
        recorded = SyncLogEntry.objects.filter(state="synced", record_type="invoice").count()
        assert recorded < created_before_kill  # one invoice exists at Fortnox that the hub did not record

        # And a new worker starts, the run's heartbeat goes stale and beat sweeps. Whichever comes
        # first takes the run over: the sweep's message, or Redis handing out the dead worker's
        # unacknowledged one again; the claim lets only one of them run it.
        worker = _start_worker(env, log)
        time.sleep(STALE_SECONDS + 0.5)
        from sync.services.runs import sync_runs_resume_stale

        sync_runs_resume_stale()
        _wait(lambda: SyncRun.objects.get(pk=run_id).state not in ("queued", "running"), timeout=90,
              what="the run to finish", worker=worker, log=log)
    finally:
        _kill(worker)

    # Then the run finished on its second attempt and Fortnox holds every invoice exactly once
    run = SyncRun.objects.get(pk=run_id)
    assert (run.state, run.attempts, run.failed_count) == ("succeeded", 2, 0)
    references = Counter(invoice["ExternalInvoiceReference1"] for invoice in sandbox.invoices.values())
    assert len(references) == INVOICES and set(references.values()) == {1}
    posts = [r for r in sandbox.requests if (r.method, r.path) == ("POST", "/3/invoices")]
    assert len(posts) == INVOICES
    lookups = [r for r in sandbox.requests if (r.method, r.path) == ("GET", "/3/invoices")]
    assert len(lookups) == 1  # the one invoice in doubt was looked up, found and adopted
    assert SyncLogEntry.objects.filter(state="synced", record_type="invoice").count() == INVOICES
