"""Celery tasks of the sync: thin callers taking ids. `sync_run_execute` is safe to deliver
twice: the claim lets one worker run a run, and a redelivered message after a worker died
takes the run over once its heartbeat is stale."""
from __future__ import annotations

import logging

from celery import shared_task

from integrations.models import Integration, Tenant
from sync.models import RunTrigger

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def sync_run_execute(self, run_id: str) -> str | None:
    from sync.services.runs import RunDeferred
    from sync.services.runs import sync_run_execute as execute

    try:
        run = execute(run_id=run_id)
    except RunDeferred as deferred:
        raise self.retry(countdown=deferred.countdown) from None
    return run.state if run else None


@shared_task
def sync_scheduled(integration_id: str, scope: str) -> str | None:
    """What a schedule's PeriodicTask runs: trigger a run, unless one is still going."""
    from sync.services.runs import RunAlreadyActive, sync_trigger

    integration = Integration.objects.select_related("tenant").filter(pk=integration_id).first()
    if integration is None:
        return None
    try:
        run = sync_trigger(tenant=integration.tenant, integration=integration.specific(), scope=scope,
                           trigger=RunTrigger.SCHEDULE, actor="schedule")
    except RunAlreadyActive as busy:
        logger.info("scheduled sync skipped: a run is active", extra={"run_id": str(busy.run.pk)})
        return None
    return str(run.pk)


@shared_task
def sync_trigger(tenant_id: str, integration_type: str, scope: str | None = None,
                 integration_id: str | None = None) -> str:
    """triggerSync for callers inside the platform (another service, a management command)."""
    from sync.selectors import sync_integration_resolve
    from sync.services.runs import sync_trigger as trigger

    tenant = Tenant.objects.get(pk=tenant_id)
    integration = sync_integration_resolve(tenant=tenant, integration_type=integration_type,
                                           integration_id=integration_id)
    return str(trigger(tenant=tenant, integration=integration, scope=scope, trigger=RunTrigger.API,
                       actor="task").pk)


@shared_task
def sync_membership_data(tenant_id: str, integration_type: str = "crm/dynamics365") -> str:
    return sync_trigger(tenant_id, integration_type, "members")


@shared_task
def sync_course_enrollments(tenant_id: str, integration_type: str) -> str:
    return sync_trigger(tenant_id, integration_type, "enrollments")


@shared_task
def export_reimbursements(tenant_id: str, integration_type: str, reimbursement_ids: list[str]) -> str:
    from sync.selectors import sync_integration_resolve
    from sync.services.records import reimbursements_export

    tenant = Tenant.objects.get(pk=tenant_id)
    integration = sync_integration_resolve(tenant=tenant, integration_type=integration_type)
    return str(reimbursements_export(tenant=tenant, integration=integration, reimbursement_ids=reimbursement_ids,
                                     actor="task").pk)


@shared_task
def refresh_oauth_token(integration_id: str) -> str | None:
    from sync.services.credentials import integration_token_refresh

    integration = Integration.objects.get(pk=integration_id)
    expires_at = integration_token_refresh(integration=integration, actor="task")["expires_at"]
    return expires_at.isoformat() if expires_at else None


@shared_task
def process_webhook_event(event_id: str) -> str | None:
    """Handle one stored inbound event now (the webhooks framework does this on its own too)."""
    from webhooks.services.inbound import inbound_event_handle

    event = inbound_event_handle(event_id=event_id)
    return event.status if event else None


@shared_task
def schedule_sync(tenant_id: str, integration_type: str, scope: str, cron: str, timezone: str = "UTC") -> str:
    """scheduleSync for callers inside the platform; answers the SyncSchedule id."""
    from sync.selectors import sync_integration_resolve
    from sync.services.schedules import sync_schedule_create

    tenant = Tenant.objects.get(pk=tenant_id)
    integration = sync_integration_resolve(tenant=tenant, integration_type=integration_type)
    return str(sync_schedule_create(tenant=tenant, integration=integration, scope=scope, cron=cron,
                                    timezone=timezone, actor="task").pk)


@shared_task
def cancel_scheduled_sync(tenant_id: str, schedule_id: str) -> None:
    from sync.selectors import sync_schedule_get
    from sync.services.schedules import sync_schedule_cancel

    tenant = Tenant.objects.get(pk=tenant_id)
    sync_schedule_cancel(schedule=sync_schedule_get(tenant=tenant, schedule_id=schedule_id), actor="task")


@shared_task
def get_last_sync_result(tenant_id: str, integration_type: str) -> dict | None:
    """getLastSyncResult as a task: the finished run as the outbound sync events carry it."""
    from sync.selectors import sync_integration_resolve, sync_run_last_finished
    from sync.services.runs import run_event_data

    tenant = Tenant.objects.get(pk=tenant_id)
    integration = sync_integration_resolve(tenant=tenant, integration_type=integration_type)
    run = sync_run_last_finished(tenant=tenant, integration=integration)
    return run_event_data(run) if run else None


@shared_task
def sync_runs_resume_stale() -> int:
    from sync.services.runs import sync_runs_resume_stale as resume

    return resume()
