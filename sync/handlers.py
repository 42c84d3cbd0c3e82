"""The sync's part of the inbound webhook pipeline (webhooks.handlers):

- the echo checker: an event about a record the hub itself wrote moments ago is our own push
  coming back. It is recognised from the sync log by the provider's record id, and by the
  content hash when the provider sends one, or by the time: synchronised within
  SYNC_ECHO_WINDOW_SECONDS of the event. The pipeline then marks the event `ignored`.
- change handlers: a real change at the provider to a record the hub pushed is noted on its
  sync-log entry (`remote_updated_at`), which getIntegrationStatus and the admin show.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from adapters.inbound import EventType
from sync.models import LogState, SyncLogEntry
from webhooks.handlers import register_echo_checker, register_handler

logger = logging.getLogger(__name__)
# The provider's word for what changed (Fortnox topic, Xero eventCategory) -> sync-log kinds.
_RECORD_TYPES = {
    "invoice": ("invoice", "expense", "reimbursement"),  # Xero books expenses as bills (ACCPAY invoices)
    "invoicepayment": ("payment",),
    "payment": ("payment",),
    "voucher": ("expense", "reimbursement", "payment"),
    "customer": ("customer",),
    "contact": ("customer", "supplier", "member"),
}
CHANGE_PROVIDERS = ("fortnox", "xero")


def _entries(event):
    if not event.subject_id:
        return SyncLogEntry.objects.none()
    entries = SyncLogEntry.objects.filter(tenant_id=event.tenant_id, remote_id=event.subject_id,
                                          integration__provider=event.provider)
    category = str((event.details or {}).get("category") or "").lower()
    if category in _RECORD_TYPES:
        entries = entries.filter(record_type__in=_RECORD_TYPES[category])
    return entries


@register_echo_checker
def sync_echo(event) -> bool:
    entries = _entries(event).filter(state=LogState.SYNCED)
    digest = (event.details or {}).get("content_hash")
    if digest and entries.filter(content_hash=digest).exists():
        return True
    window = timedelta(seconds=settings.SYNC_ECHO_WINDOW_SECONDS)
    echo = entries.filter(synced_at__gte=event.occurred_at - window, synced_at__lte=event.occurred_at + window).exists()
    if echo:
        logger.info("webhook is the echo of a sync push", extra={"inbound_event_id": str(event.pk),
                                                                 "provider": event.provider})
    return echo


def sync_remote_change(event) -> None:
    """A record the hub pushed changed at the provider: note when, newest first."""
    entries = _entries(event).filter(state=LogState.SYNCED)
    for entry in entries:
        if entry.remote_updated_at is None or entry.remote_updated_at < event.occurred_at:
            SyncLogEntry.objects.filter(pk=entry.pk).update(remote_updated_at=event.occurred_at)
            logger.info("pushed record changed at the provider", extra={"sync_log_id": str(entry.pk),
                                                                         "provider": event.provider})


for _provider in CHANGE_PROVIDERS:
    register_handler(_provider, EventType.RECORD_CHANGED)(sync_remote_change)
