"""syncMembershipData: members both ways between the hub and a CRM (Dynamics 365).

First the pull: contacts changed in the CRM since the last pull's high-water mark, one page at
a time. A contact whose mapped values equal the member's is an echo of our own write (or no
change) and is skipped. A contact changed while the member also changed in the hub since the
last sync is a conflict: the newer change wins, and a SyncConflict row records both sides.
Then the push: the engine sends every member whose content hash differs from the sync log,
which includes the conflicts the hub won; members the pull just updated hash equal and stay.
"""
from __future__ import annotations

import logging
from datetime import date

from django.db import transaction
from django.utils import timezone

from iot.models import Member
from sync.connectors.crm import DynamicsConnector
from sync.models import CrmIntegration, LogState, SyncConflict, SyncLogEntry, SyncRun
from sync.services.engine import Progress, RunAborted, Sink, count_on_run, run_kinds
from sync.services.execute import remote_id_lookup
from sync.services.kinds import Context, content_hash, member_content

logger = logging.getLogger(__name__)


def sync_members(*, run: SyncRun, integration: CrmIntegration, progress: Progress) -> None:
    connector = DynamicsConnector(integration)
    pulled_through = integration.last_pulled_at
    try:
        if integration.sync_direction in ("bidirectional", "pull"):
            for remote in _guarded(connector.pull(since=integration.last_pulled_at)):
                _apply_remote(run, integration, connector, remote)
                pulled_through = max(pulled_through or remote.updated_at, remote.updated_at)
                progress.beat()
            CrmIntegration.objects.filter(pk=integration.pk).update(last_pulled_at=pulled_through)
        if integration.sync_direction in ("bidirectional", "push"):
            run_kinds(run=run, record_types=("member",), progress=progress, sink=Sink(connector=connector),
                      context=Context(mapping={}, remote_id_of=remote_id_lookup(run)))
    finally:
        connector.close()


def _guarded(records):
    """Provider errors while paging stop the run the way push failures do."""
    from adapters.errors import ProviderError

    try:
        yield from records
    except ProviderError as error:
        raise RunAborted(str(error), code=error.code or type(error).__name__, retryable=error.retryable) from error


def _comparable(value):
    return value.isoformat() if isinstance(value, date) else value


def _apply_remote(run: SyncRun, integration: CrmIntegration, connector: DynamicsConnector, remote) -> None:
    values = remote.fields["_hub"]
    key_value = str(remote.fields.get(integration.member_key_column) or "")
    entry = (SyncLogEntry.objects.filter(integration_id=integration.pk, record_type="member",
                                         remote_id=remote.remote_id).first()
             or (SyncLogEntry.objects.filter(integration_id=integration.pk, record_type="member",
                                             record_id=key_value).first() if key_value else None))
    member = Member.objects.filter(tenant_id=run.tenant_id, pk=entry.record_id).first() if entry else None
    if member is None:
        member = Member.objects.filter(tenant_id=run.tenant_id, external_id=remote.remote_id).first()
    if member is None:
        _create_member(run, integration, remote, values)
        return
    unchanged_there = entry is not None and entry.remote_updated_at is not None and \
        remote.updated_at <= entry.remote_updated_at
    current = {name: _comparable(getattr(member, name)) for name in values}
    if unchanged_there or current == {name: _comparable(value) for name, value in values.items()}:
        # Not changed there since we last wrote or read it (our own write coming back), or changed
        # only in columns we do not map: nothing to apply; a hub change is pushed below.
        # Counted once, by the push below (skipped, or updated when the hub changed).
        if not unchanged_there:
            _store(run, integration, entry, member, remote, count_here=False)
        return
    hub_changed = entry is not None and entry.state == LogState.SYNCED and \
        content_hash(member_content(member)) != entry.content_hash
    if hub_changed:
        winner = "provider" if remote.updated_at > member.updated_at else "hub"
        SyncConflict.objects.create(tenant_id=run.tenant_id, run=run, record_type="member",
                                    record_id=str(member.pk), remote_id=remote.remote_id, winner=winner,
                                    hub_changed_at=member.updated_at, remote_changed_at=remote.updated_at,
                                    hub_values={k: _comparable(v) for k, v in current.items()},
                                    remote_values={k: _comparable(v) for k, v in values.items()})
        logger.info("member changed on both sides; newer change wins",
                    extra={"run_id": str(run.pk), "member_id": str(member.pk), "winner": winner})
        if winner == "hub":
            return  # the push below sends the hub's values over the contact's
    with transaction.atomic():
        for name, value in values.items():
            setattr(member, name, value)
        member.external_id = member.external_id or remote.remote_id
        member.save()
        _store(run, integration, entry, member, remote)
        count_on_run(run, read=1, updated=1)


def _create_member(run: SyncRun, integration: CrmIntegration, remote, values: dict) -> None:
    with transaction.atomic():
        member = Member.objects.create(tenant_id=run.tenant_id, external_id=remote.remote_id,
                                       **{name: value for name, value in values.items() if value is not None})
        _store(run, integration, None, member, remote)
        count_on_run(run, read=1, created=1)


def _store(run: SyncRun, integration: CrmIntegration, entry: SyncLogEntry | None, member: Member, remote, *,
           count_here: bool = True) -> None:
    """The member and the contact agree now: remember the contact and the member's hash. Unless
    counted here, the entry is left for the push stage to count (and send, if the hub changed)."""
    fields = {"tenant_id": run.tenant_id, "reference": str(member.pk), "remote_id": remote.remote_id,
              "state": LogState.SYNCED, "content_hash": content_hash(member_content(member)), "pending_hash": "",
              "synced_at": timezone.now(), "remote_updated_at": remote.updated_at, "last_error": ""}
    if count_here:
        fields["last_run"] = run
    if entry is not None and entry.record_id == str(member.pk):
        SyncLogEntry.objects.filter(pk=entry.pk).update(**fields, updated_at=timezone.now())
    else:
        SyncLogEntry.objects.update_or_create(integration_id=integration.pk, record_type="member",
                                              record_id=str(member.pk), defaults=fields)
