"""Sync runs: trigger (one active run per integration), claim, execute, finish, cancel, and
the sweep that takes up runs a dead worker or a lost broker message left behind.

A run is a row first: the trigger inserts it `queued` (the partial unique index refuses a
second active run of the same integration) and enqueues its task after commit. The task
claims the row; a `running` row whose heartbeat went stale belongs to a worker that died and
is taken over, and the engine resumes it without creating anything twice. Every finished
run emits `sync.completed` (succeeded, partially failed) or `sync.failed` (failed,
cancelled) to the tenant's outbound webhooks, in the transaction that records the outcome.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from adapters.errors import ProviderError
from integrations.errors import ApplicationError, Conflict
from integrations.events import event_emit
from integrations.lifecycle import Status
from integrations.models import DeadLetter, Integration
from integrations.services.deadletters import dead_letter_create, register_replay
from sync.models import RunState, RunTrigger, SyncRun
from sync.selectors import SYNC_FAMILIES, integration_type_of, sync_run_active
from sync.services.engine import RunAborted, RunCancelled

logger = logging.getLogger(__name__)
RUN_OPERATION = "sync.run"
FAMILY_SCOPES = {
    "accounting": ("accounting", "invoices", "payments", "expenses", "reimbursements"),
    "erp": ("accounting", "invoices", "payments", "expenses", "reimbursements", "members"),
    "crm": ("members",),
    "lms": ("enrollments",),
}


class RunDeferred(Exception):
    """The provider is unavailable for now: the run went back to `queued` and its task retries
    it after `countdown` seconds (never sooner than the provider's Retry-After)."""

    def __init__(self, run: SyncRun, countdown: float) -> None:
        super().__init__(f"run {run.pk} deferred for {countdown:.0f} s")
        self.run, self.countdown = run, countdown


class RunAlreadyActive(Conflict):
    code = "sync_run_active"
    title = "A sync run is already active"

    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"a {run.scope} run of this integration is already {run.state}; it must finish first",
                         extra={"active_run_id": str(run.pk)})
        self.run = run


def sync_trigger(*, tenant, integration: Integration, scope: str | None, trigger: str, actor: str,
                 record_ids: list[str] | None = None, mode: str = "api") -> SyncRun:
    """Insert a queued run and enqueue it after commit; 409 when one is already active."""
    scope = scope or SYNC_FAMILIES[integration.family]
    allowed = FAMILY_SCOPES.get(integration.family, ())
    if scope not in allowed:
        raise ApplicationError(f"scope '{scope}' does not apply to {integration_type_of(integration)}; use one of: "
                               f"{', '.join(allowed)}", extra={"errors": {"scope": ["not available for this "
                                                                                    "integration"]}})
    if integration.status != Status.ACTIVE:
        raise Conflict(f"the integration is {integration.status}; only active integrations sync",
                       extra={"integration_status": integration.status})
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(tenant=tenant, integration=integration, scope=scope, trigger=trigger,
                                         started_by=actor[:200], record_ids=[str(i) for i in record_ids or []],
                                         mode=mode)
    except IntegrityError:
        active = sync_run_active(tenant=tenant, integration=integration)
        if active is None:  # it finished between the insert and this read
            return sync_trigger(tenant=tenant, integration=integration, scope=scope, trigger=trigger, actor=actor,
                                record_ids=record_ids, mode=mode)
        raise RunAlreadyActive(active) from None
    transaction.on_commit(lambda: _enqueue(run.pk))
    logger.info("sync run queued", extra={"run_id": str(run.pk), "integration_id": str(integration.pk),
                                          "scope": scope, "trigger": trigger})
    return run


def _enqueue(run_id) -> None:
    from sync.tasks import sync_run_execute as sync_run_execute_task

    try:
        sync_run_execute_task.delay(str(run_id))
    except Exception:  # broker down: the row is the truth; the stale sweep enqueues it later
        logger.warning("could not enqueue sync run; the sweep will", extra={"run_id": str(run_id)}, exc_info=True)


def sync_run_claim(*, run_id) -> SyncRun | None:
    """Take the run up: a queued one, or a running one whose worker stopped beating."""
    stale_before = timezone.now() - timedelta(seconds=settings.SYNC_STALE_RUN_SECONDS)
    with transaction.atomic():
        run = SyncRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None or run.state not in (RunState.QUEUED, RunState.RUNNING):
            return None
        if run.state == RunState.RUNNING and run.heartbeat_at and run.heartbeat_at > stale_before:
            return None  # a live worker has it
        now = timezone.now()
        if run.state == RunState.RUNNING:
            logger.warning("taking over a sync run whose worker stopped", extra={"run_id": str(run.pk),
                                                                                  "attempt": run.attempts + 1})
        run.state, run.heartbeat_at, run.attempts = RunState.RUNNING, now, run.attempts + 1
        run.started_at = run.started_at or now
        run.save(update_fields=["state", "heartbeat_at", "attempts", "started_at", "updated_at"])
    return run


def sync_run_execute(*, run_id) -> SyncRun | None:
    """Claim and run it to a final state. Returns None when another worker has it."""
    from sync.services.execute import execute_run

    run = sync_run_claim(run_id=run_id)
    if run is None:
        return None
    started = time.monotonic()
    try:
        failed = execute_run(run)
    except RunCancelled:
        return _finish(run, RunState.CANCELLED, message="cancelled on request")
    except RunAborted as aborted:
        if aborted.retryable and run.attempts <= settings.TASK_MAX_RETRIES:
            raise _defer(run, aborted) from aborted
        return _finish(run, RunState.FAILED, code=aborted.code, message=aborted.message, dead_letter=True)
    except ProviderError as error:  # building the connection: an OAuth refresh the user must redo
        return _finish(run, RunState.FAILED, code=error.code or type(error).__name__, message=str(error),
                       dead_letter=True)
    except ApplicationError as error:  # a credential ref that does not resolve, a half-configured integration
        return _finish(run, RunState.FAILED, code=error.code, message=error.detail, dead_letter=True)
    except Exception:
        # A bug must not leave the run `running` for the sweep to crash on again and again.
        logger.exception("sync run crashed", extra={"run_id": str(run.pk)})
        return _finish(run, RunState.FAILED, code="internal_error",
                       message="the run stopped on an internal error; it has been logged", dead_letter=True)
    logger.info("sync run done", extra={"run_id": str(run.pk), "seconds": round(time.monotonic() - started, 3)})
    return _finish(run, RunState.PARTIALLY_FAILED if failed else RunState.SUCCEEDED)


def _defer(run: SyncRun, aborted: RunAborted) -> RunDeferred:
    """Back to `queued`, keeping its place as the integration's active run and its counts."""
    countdown = max(aborted.retry_after or 0, settings.TASK_RETRY_BASE_SECONDS * 2 ** (run.attempts - 1))
    SyncRun.objects.filter(pk=run.pk, state=RunState.RUNNING).update(
        state=RunState.QUEUED, error_code=aborted.code[:60], updated_at=timezone.now(),
        error_message=f"retrying in {countdown:.0f} s: {aborted.message}"[:1000])
    logger.warning("sync run deferred: provider unavailable", extra={"run_id": str(run.pk), "countdown": countdown,
                                                                     "attempt": run.attempts})
    return RunDeferred(run, countdown)


def _finish(run: SyncRun, state: str, *, code: str = "", message: str = "", dead_letter: bool = False) -> SyncRun:
    now = timezone.now()
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().select_related("integration").get(pk=run.pk)
        if run.state not in (RunState.QUEUED, RunState.RUNNING):
            return run
        run.state, run.finished_at, run.heartbeat_at = state, now, now
        run.duration_ms = int((now - (run.started_at or now)).total_seconds() * 1000)
        run.error_code, run.error_message = code[:60], message[:1000]
        run.save(update_fields=["state", "finished_at", "heartbeat_at", "duration_ms", "error_code",
                                "error_message", "updated_at"])
        event_emit(tenant_id=run.tenant_id,
                   event_type="sync.completed" if state in (RunState.SUCCEEDED, RunState.PARTIALLY_FAILED)
                   else "sync.failed", data=run_event_data(run))
        if dead_letter:
            dead_letter_create(tenant_id=run.tenant_id, operation=RUN_OPERATION, integration_id=run.integration_id,
                               payload={"run_id": str(run.pk), "scope": run.scope, "record_ids": run.record_ids},
                               error=message, error_code=code, attempts=run.attempts, subject_id=str(run.pk))
    logger.info("sync run finished", extra={"run_id": str(run.pk), "state": state, "error_code": code})
    return run


def run_event_data(run: SyncRun) -> dict:
    return {"run_id": str(run.pk), "integration_id": str(run.integration_id),
            "integration_type": integration_type_of(run.integration), "scope": run.scope, "state": run.state,
            "trigger": run.trigger, "counts": {"read": run.read_count, "created": run.created_count,
                                               "updated": run.updated_count, "skipped": run.skipped_count,
                                               "failed": run.failed_count},
            "duration_ms": run.duration_ms, "error_code": run.error_code, "error": run.error_message}


def sync_run_cancel(*, run: SyncRun, actor: str) -> SyncRun:
    """A queued run is cancelled at once; a running one stops at its next heartbeat."""
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=run.pk)
        if locked.state not in (RunState.QUEUED, RunState.RUNNING):
            raise Conflict(f"the run is already {locked.state}", extra={"state": locked.state})
        SyncRun.objects.filter(pk=run.pk).update(cancel_requested=True, updated_at=timezone.now())
    logger.info("sync run cancel requested", extra={"run_id": str(run.pk), "actor": actor})
    if locked.state == RunState.QUEUED:
        return _finish(locked, RunState.CANCELLED, message=f"cancelled by {actor}")
    run.refresh_from_db()
    return run


def sync_runs_resume_stale() -> int:
    """Beat: enqueue runs left queued (lost message) or running without a heartbeat (dead worker)."""
    now = timezone.now()
    queued_before = now - timedelta(seconds=settings.STALE_QUEUED_SECONDS)
    stale_before = now - timedelta(seconds=settings.SYNC_STALE_RUN_SECONDS)
    queued = SyncRun.objects.filter(state=RunState.QUEUED, created_at__lte=queued_before)
    running = SyncRun.objects.filter(state=RunState.RUNNING, heartbeat_at__lte=stale_before)
    run_ids = list(queued.values_list("pk", flat=True)[:200]) + list(running.values_list("pk", flat=True)[:200])
    for run_id in run_ids:
        _enqueue(run_id)
    return len(run_ids)


@register_replay(RUN_OPERATION)
def _replay_failed_run(letter: DeadLetter) -> None:
    """Replaying a failed run starts a new one over the same records; the log skips what was done."""
    original = SyncRun.objects.filter(tenant_id=letter.tenant_id, pk=letter.payload.get("run_id")).first()
    if original is None:
        raise ApplicationError("the run behind this dead letter no longer exists")
    integration = Integration.objects.get(pk=original.integration_id).specific()
    sync_trigger(tenant=integration.tenant, integration=integration, scope=original.scope, trigger=RunTrigger.ADMIN,
                 actor="dead-letter-replay", record_ids=original.record_ids, mode=original.mode)
