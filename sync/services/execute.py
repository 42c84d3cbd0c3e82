"""What a claimed run does, per family: accounting and ERP push the hub's records, CRM syncs
members both ways, learning systems receive enrolments by API or as a CSV import file."""
from __future__ import annotations

import logging

from integrations.errors import ApplicationError
from sync.connectors import connector_for
from sync.models import LogState, SyncLogEntry, SyncRun
from sync.services.engine import Progress, Sink, run_kinds
from sync.services.kinds import SCOPES, Context

logger = logging.getLogger(__name__)
# Which record kinds the accounting integration's switches enable for the "accounting" scope.
_ACCOUNTING_SWITCHES = {"invoice": "invoice_sync", "payment": "payment_sync", "expense": "expense_sync",
                        "reimbursement": "expense_sync"}
_ERP_CAPABILITIES = {"invoice": "invoices", "payment": "payments", "expense": "expenses",
                     "reimbursement": "reimbursements", "member": "members"}


def execute_run(run: SyncRun) -> bool:
    """Run it; True when some records failed."""
    integration = run.integration.specific()
    progress = Progress(run)
    progress.beat(force=True)
    if integration.family == "crm":
        from sync.services.members import sync_members

        sync_members(run=run, integration=integration, progress=progress)
    elif integration.family == "lms":
        from sync.services.exports import sync_enrollments

        sync_enrollments(run=run, integration=integration, progress=progress)
    else:
        _push_records(run, integration, progress)
    run.refresh_from_db()
    return run.failed_count > 0


def remote_id_lookup(run: SyncRun):
    def remote_id_of(record_type: str, record_id: str) -> str | None:
        return (SyncLogEntry.objects.filter(integration_id=run.integration_id, record_type=record_type,
                                            record_id=record_id, state=LogState.SYNCED)
                .values_list("remote_id", flat=True).first())
    return remote_id_of


def record_types_for(run: SyncRun, integration) -> tuple[str, ...]:
    types = SCOPES[run.scope]
    if integration.family == "erp":
        capabilities = set(integration.third_party.capabilities or [])
        unsupported = [t for t in types if _ERP_CAPABILITIES[t] not in capabilities]
        if run.scope != "accounting" and unsupported:
            raise ApplicationError(f"{integration.third_party.display_name} does not accept "
                                   f"{_ERP_CAPABILITIES[unsupported[0]]}", code="not_supported")
        return tuple(t for t in types if _ERP_CAPABILITIES[t] in capabilities)
    if run.scope == "accounting":
        return tuple(t for t in types if getattr(integration, _ACCOUNTING_SWITCHES[t], False))
    return types


def _push_records(run: SyncRun, integration, progress: Progress) -> None:
    connector = connector_for(integration)
    try:
        context = Context(mapping=dict(integration.chart_of_accounts_mapping or {}),
                          remote_id_of=remote_id_lookup(run))
        run_kinds(run=run, record_types=record_types_for(run, integration), context=context,
                  sink=Sink(connector=connector), progress=progress)
    finally:
        connector.close()

