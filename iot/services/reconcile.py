"""Sessions whose check-out webhook never came: Ziggy is asked which of the hub's long-open
sessions it still has open, and those it has closed (or never heard of) are closed here with
what Ziggy says. Runs from beat; a provider failure leaves the tenant for the next run."""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adapters.errors import ProviderError, ProviderRejected
from integrations.errors import ApplicationError
from iot.models import AccessSession, SessionStatus
from iot.services import access_control
from iot.services.access import session_close

logger = logging.getLogger(__name__)
_BATCH = 500


def sessions_reconcile(*, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.IOT_SESSION_RECONCILE_AFTER_MINUTES)
    stale = (AccessSession.objects.filter(status=SessionStatus.ACTIVE, checked_in_at__lt=cutoff)
             .exclude(external_session_id="").order_by("checked_in_at")[:_BATCH])
    by_tenant: dict = defaultdict(list)
    for session in stale:
        by_tenant[session.tenant_id].append(session)
    closed = 0
    for tenant_id, sessions in by_tenant.items():
        try:
            integration = access_control.access_integration(tenant_id=tenant_id)
            open_at_ziggy = {info.session_id for info in access_control.active_sessions(integration=integration)}
        except (access_control.AccessControlNotConfigured, ApplicationError, ProviderError) as exc:
            logger.info("sessions not reconciled for a tenant", extra={"tenant_id": str(tenant_id),
                                                                     "reason": exc.__class__.__name__})
            continue
        for session in sessions:
            if session.external_session_id not in open_at_ziggy:
                closed += _close_from_ziggy(integration, session, now)
    return {"checked": sum(len(sessions) for sessions in by_tenant.values()), "closed": closed}


def _close_from_ziggy(integration, session: AccessSession, now: datetime) -> int:
    try:
        info = access_control.session_detail(integration=integration, session_id=session.external_session_id)
    except ProviderRejected as exc:
        if exc.status_code != 404:
            return 0
        info = None  # Ziggy never heard of it: nothing is open there
    except ProviderError:
        return 0
    if info is not None and info.status == "active":
        return 0  # opened again or listed late: still open
    with transaction.atomic():
        session_close(session_id=session.pk, checked_out_at=(info.checked_out_at if info else None) or now,
                      consumption_total=info.consumption_total if info else None, source="ziggy-reconcile")
    return 1
