"""Reads of the sync app. Every selector takes the tenant first."""
from __future__ import annotations

from django.db.models import QuerySet

from integrations.errors import ApplicationError, NotFound
from integrations.lifecycle import Status
from integrations.models import Integration
from sync.models import (
    FINISHED_RUN_STATES,
    CourseEnrollment,
    Expense,
    Invoice,
    InvoicePayment,
    Reimbursement,
    SyncLogEntry,
    SyncRun,
    SyncSchedule,
    ThirdPartyProvider,
)

# Integration families a sync can run on, and the scope a run covers when none is named.
SYNC_FAMILIES = {"accounting": "accounting", "crm": "members", "lms": "enrollments", "erp": "accounting"}


def integration_type_of(integration: Integration) -> str:
    """`accounting/fortnox`, `crm/dynamics365`, `lms/cornerstone`, `erp/<third-party key>`."""
    specific = integration.specific()
    if integration.family == "erp" and getattr(specific, "third_party_id", None):
        return f"erp/{specific.third_party.key}"
    return f"{integration.family}/{integration.provider}"


def sync_integration_resolve(*, tenant, integration_type: str, integration_id=None) -> Integration:
    """The tenant's integration of that type: the one named by id, else the only live one."""
    family, _, provider = (integration_type or "").partition("/")
    if family not in SYNC_FAMILIES or not provider:
        raise ApplicationError(f"integration_type must be one of {', '.join(f'{f}/<provider>' for f in SYNC_FAMILIES)}",
                               code="invalid", extra={"errors": {"integration_type": ["unknown integration type"]}})
    candidates = Integration.objects.filter(tenant=tenant, family=family).exclude(status=Status.DECOMMISSIONED)
    if family == "erp":
        candidates = candidates.filter(erpintegration__third_party__key=provider)
    else:
        candidates = candidates.filter(provider=provider)
    if integration_id is not None:
        found = candidates.filter(pk=integration_id).first()
        if found is None:
            raise NotFound(f"no {integration_type} integration with id {integration_id}")
        return found.specific()
    found = list(candidates.order_by("created_at")[:2])
    if not found:
        raise NotFound(f"this organisation has no {integration_type} integration")
    if len(found) > 1:
        raise ApplicationError(f"this organisation has several {integration_type} integrations; name one with "
                               "integration_id", code="ambiguous_integration",
                               extra={"errors": {"integration_id": ["required: several integrations match"]}})
    return found[0].specific()


def sync_run_list(*, tenant, filters: dict | None = None) -> QuerySet:
    runs = SyncRun.objects.filter(tenant=tenant).select_related("integration")
    filters = filters or {}
    if "state" in filters:
        runs = runs.filter(state=filters["state"])
    if "integration_id" in filters:
        runs = runs.filter(integration_id=filters["integration_id"])
    return runs


def sync_run_get(*, tenant, run_id) -> SyncRun:
    run = SyncRun.objects.filter(tenant=tenant, pk=run_id).select_related("integration").first()
    if run is None:
        raise NotFound("sync run not found")
    return run


def sync_run_active(*, tenant, integration: Integration) -> SyncRun | None:
    return SyncRun.objects.filter(tenant=tenant, integration=integration, state__in=["queued", "running"]).first()


def sync_run_last_finished(*, tenant, integration: Integration) -> SyncRun | None:
    return (SyncRun.objects.filter(tenant=tenant, integration=integration, state__in=FINISHED_RUN_STATES)
            .order_by("-finished_at", "-created_at").first())


def sync_schedule_list(*, tenant, integration: Integration | None = None) -> QuerySet:
    schedules = SyncSchedule.objects.filter(tenant=tenant).select_related("periodic_task__crontab", "integration")
    return schedules.filter(integration=integration) if integration is not None else schedules


def sync_schedule_get(*, tenant, schedule_id) -> SyncSchedule:
    schedule = sync_schedule_list(tenant=tenant).filter(pk=schedule_id).first()
    if schedule is None:
        raise NotFound("sync schedule not found")
    return schedule


def sync_log_for_record(*, tenant, record_type: str, record_id) -> QuerySet:
    return SyncLogEntry.objects.filter(tenant=tenant, record_type=record_type, record_id=str(record_id))


def sync_integration_status(*, tenant, integration: Integration) -> dict:
    """getIntegrationStatus: the integration's state, its running and last runs, schedules, log."""
    specific = integration.specific()
    log = SyncLogEntry.objects.filter(tenant=tenant, integration=integration)
    return {
        "integration": integration,
        "integration_type": integration_type_of(integration),
        "active_run": sync_run_active(tenant=tenant, integration=integration),
        "last_run": sync_run_last_finished(tenant=tenant, integration=integration),
        "schedules": list(sync_schedule_list(tenant=tenant, integration=integration)),
        "oauth_token_expires_at": getattr(specific, "oauth_token_expires_at", None),
        "records": {state: log.filter(state=state).count() for state in ("synced", "pending", "failed", "exported")},
    }


RECORD_MODELS = {"invoices": Invoice, "payments": InvoicePayment, "expenses": Expense,
                 "reimbursements": Reimbursement, "enrollments": CourseEnrollment}


def record_list(*, tenant, collection: str) -> QuerySet:
    return RECORD_MODELS[collection].objects.filter(tenant=tenant)


def record_get(*, tenant, collection: str, record_id):
    found = record_list(tenant=tenant, collection=collection).filter(pk=record_id).first()
    if found is None:
        raise NotFound(f"{collection[:-1]} not found")
    return found


def third_party_provider_list(*, tenant) -> QuerySet:
    return ThirdPartyProvider.objects.filter(tenant=tenant)
