"""The push loop of a run: records in primary-key order, in chunks, each one synchronised on
its own.

Per record:
1. hash its content; unchanged since the sync log says it was synchronised: skipped;
2. commit a `pending` log entry (before any provider call) so a worker killed during the
   call leaves a trace;
3. a pending entry found here means an earlier attempt may have reached the provider: look
   the document up by its external reference first and adopt what is found;
4. push (create, or update where the connector supports updates);
5. in one transaction: the log entry (provider id, hash, time) and the run's counters.

A permanent provider refusal or a record the hub cannot express fails that record alone. A
retryable failure that outlasted the call's retries, an authentication failure or an
exhausted quota stops the run (`RunAborted`): the records left are picked up next time,
pending ones looked up first. Memory stays flat: nothing collects all rows.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from adapters.errors import ProviderAuthFailed, ProviderError
from adapters.sync_types import Document, DocumentRejected, PushResult
from integrations.errors import ApplicationError
from sync.connectors.base import Connector
from sync.models import LogState, SyncLogEntry, SyncRecordError, SyncRun
from sync.services.kinds import KINDS, Context, Kind, RecordRejected, content_hash
from sync.services.log_writes import pending_insert, synced_write

logger = logging.getLogger(__name__)


class RunAborted(Exception):
    """The run cannot go on: the provider is down, refuses our credentials, or the quota is spent."""

    def __init__(self, message: str, *, code: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.retryable, self.retry_after = message, code, retryable, retry_after


class RunCancelled(Exception):
    pass


@dataclass
class Sink:
    """Where documents go: the connector (API), or a CSV writer (exports)."""

    connector: Connector | None = None
    write_row: Callable[[str, Document], str] | None = None  # returns the pseudo remote id of the row
    exported: int = 0

    @property
    def csv(self) -> bool:
        return self.write_row is not None


@dataclass
class Progress:
    run: SyncRun
    last_beat: float = field(default_factory=time.monotonic)

    def beat(self, *, force: bool = False) -> None:
        """Heartbeat and cancellation check, at most every SYNC_HEARTBEAT_SECONDS."""
        now = time.monotonic()
        if not force and now - self.last_beat < settings.SYNC_HEARTBEAT_SECONDS:
            return
        self.last_beat = now
        SyncRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())
        if SyncRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise RunCancelled()


def chunked(items: Iterator, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def run_kinds(*, run: SyncRun, record_types: tuple[str, ...], context: Context, sink: Sink,
              progress: Progress, switch_to_csv: Callable[[ProviderError], Sink | None] | None = None) -> Sink:
    """Push every record of these kinds; returns the sink in use at the end (an API run may
    have fallen back to CSV)."""
    for record_type in record_types:
        kind = KINDS[record_type]
        rows = kind.queryset(run).iterator(chunk_size=settings.SYNC_CHUNK_SIZE)
        for chunk in chunked(rows, settings.SYNC_CHUNK_SIZE):
            progress.beat()
            entries = _entries_for(run, kind, chunk)
            for row in chunk:
                try:
                    _sync_record(run=run, kind=kind, row=row, entry=entries.get(str(row.pk)), context=context,
                                 sink=sink)
                except RunAborted as aborted:
                    replacement = switch_to_csv(aborted.__cause__) if switch_to_csv and aborted.retryable else None
                    if replacement is None:
                        raise
                    sink = replacement
                    _sync_record(run=run, kind=kind, row=row, entry=SyncLogEntry.objects.filter(
                        integration_id=run.integration_id, record_type=kind.record_type,
                        record_id=str(row.pk)).first(), context=context, sink=sink)
                progress.beat()
    return sink


def _entries_for(run: SyncRun, kind: Kind, chunk: list) -> dict[str, SyncLogEntry]:
    ids = [str(row.pk) for row in chunk]
    entries = SyncLogEntry.objects.filter(integration_id=run.integration_id, record_type=kind.record_type,
                                          record_id__in=ids)
    return {entry.record_id: entry for entry in entries}


def count_on_run(run: SyncRun, **counters: int) -> None:
    """Add to the run's counters in the database (read=1, skipped=1, ...)."""
    SyncRun.objects.filter(pk=run.pk).update(**{f"{name}_count": F(f"{name}_count") + value
                                                for name, value in counters.items()})


def _sync_record(*, run: SyncRun, kind: Kind, row, entry: SyncLogEntry | None, context: Context,
                 sink: Sink) -> None:
    record_id = str(row.pk)
    digest = content_hash(kind.content(row))
    # Sent by API or handed over in an import file: either way the provider has this version.
    if entry is not None and entry.state in (LogState.SYNCED, LogState.EXPORTED) and entry.content_hash == digest:
        if entry.last_run_id != run.pk:  # done by this run before a restart: counted then
            count_on_run(run, read=1, skipped=1)
        return
    connector = sink.connector
    if entry is not None and entry.state == LogState.SYNCED and not sink.csv and not connector.updates:
        _fail(run, kind, row, entry, code="changed_after_push", retryable=False,
              message=f"changed after it was pushed to {run.integration.display_name}, where it is booked and "
                      f"cannot be changed; correct it there (a credit note) and leave the hub record as sent")
        return
    try:
        document = kind.document(row, context)
    except RecordRejected as rejected:
        _fail(run, kind, row, entry, code=rejected.code, message=rejected.message, retryable=False)
        return
    if sink.csv:
        _record_exported(run, kind, row, digest, sink.write_row(kind.record_type, document))
        sink.exported += 1
        return
    resuming = entry is not None and entry.state == LogState.PENDING and bool(entry.pending_hash)
    entry = _mark_pending(run, kind, row, entry, digest)
    try:
        result = _deliver(connector, kind, document, entry, resuming=resuming)
    except ProviderError as error:
        if error.status_code is not None:
            # The provider answered with a refusal, so nothing was created: no lookup needed next
            # time. Only a call without an answer (timeout, dropped connection) stays in doubt.
            SyncLogEntry.objects.filter(pk=entry.pk).update(pending_hash="")
        if isinstance(error, ProviderAuthFailed) or error.retryable:
            raise RunAborted(str(error), code=error.code or type(error).__name__, retryable=error.retryable,
                             retry_after=error.retry_after) from error
        _fail(run, kind, row, entry, code=error.code or f"http_{error.status_code}", message=str(error),
              retryable=False)
        return
    except DocumentRejected as rejected:  # refused by the adapter before any request went out
        _fail(run, kind, row, entry, code=rejected.code, message=rejected.message, retryable=False)
        return
    except ApplicationError as error:  # quota exhausted, a credential ref that no longer resolves
        raise RunAborted(error.detail, code=error.code, retryable=error.status == 429) from error
    _record_synced(run, kind, entry, digest, result, updated=bool(entry.remote_id) and not result.created)


def _deliver(connector: Connector, kind: Kind, document: Document, entry: SyncLogEntry, *,
             resuming: bool) -> PushResult:
    if resuming and not entry.remote_id:
        found = connector.find(kind.record_type, document)
        if found:
            logger.info("resumed record found at the provider; not created again",
                        extra={"run_id": str(entry.last_run_id), "record_type": kind.record_type,
                               "record_id": entry.record_id})
            return PushResult(remote_id=found, created=True, details={"adopted": True})
    return connector.push(kind.record_type, document, remote_id=entry.remote_id)


def _mark_pending(run: SyncRun, kind: Kind, row, entry: SyncLogEntry | None, digest: str) -> SyncLogEntry:
    """Committed before the provider call: the trace a killed worker leaves behind."""
    reference = kind.reference(row)[:100]
    if entry is None:
        # The chunk's lookup found none, so insert straight away; when another worker got there
        # first, its entry is the one to go on with.
        created = pending_insert(run=run, record_type=kind.record_type, record_id=str(row.pk), reference=reference,
                                 digest=digest)
        if created is not None:
            return created
        entry = SyncLogEntry.objects.get(integration_id=run.integration_id, record_type=kind.record_type,
                                         record_id=str(row.pk))
    was_synced = entry.state == LogState.SYNCED
    SyncLogEntry.objects.filter(pk=entry.pk).update(
        state=LogState.SYNCED if was_synced else LogState.PENDING, pending_hash=digest, reference=reference,
        last_run=run, updated_at=timezone.now())
    entry.pending_hash, entry.last_run_id = digest, run.pk
    if not was_synced:
        entry.state = LogState.PENDING
    return entry


def _record_synced(run: SyncRun, kind: Kind, entry: SyncLogEntry, digest: str, result: PushResult, *,
                   updated: bool) -> None:
    synced_write(run=run, entry_id=entry.pk, remote_id=result.remote_id, digest=digest,
                 remote_updated_at=result.remote_updated_at, updated=updated)


def _record_exported(run: SyncRun, kind: Kind, row, digest: str, remote_id: str) -> None:
    with transaction.atomic():
        SyncLogEntry.objects.update_or_create(
            integration_id=run.integration_id, record_type=kind.record_type, record_id=str(row.pk),
            defaults={"tenant_id": run.tenant_id, "reference": kind.reference(row)[:100], "remote_id": remote_id,
                      "state": LogState.EXPORTED, "content_hash": digest, "pending_hash": "",
                      "synced_at": timezone.now(), "last_run": run, "last_error": ""})
        count_on_run(run, read=1, created=1)


def _fail(run: SyncRun, kind: Kind, row, entry: SyncLogEntry | None, *, code: str, message: str,
          retryable: bool) -> None:
    reference = kind.reference(row)[:100]
    with transaction.atomic():
        SyncRecordError.objects.create(tenant_id=run.tenant_id, run=run, record_type=kind.record_type,
                                       record_id=str(row.pk), reference=reference, code=code[:60],
                                       message=message[:1000], retryable=retryable)
        fields = {"last_error": message[:1000], "last_run": run, "pending_hash": ""}
        if entry is None:
            SyncLogEntry.objects.create(tenant_id=run.tenant_id, integration_id=run.integration_id,
                                        record_type=kind.record_type, record_id=str(row.pk), reference=reference,
                                        state=LogState.FAILED, **fields)
        else:
            # A booked record keeps its `synced` state (it is at the provider); only the error is noted.
            state = entry.state if entry.state == LogState.SYNCED else LogState.FAILED
            SyncLogEntry.objects.filter(pk=entry.pk).update(state=state, updated_at=timezone.now(), **fields)
        count_on_run(run, read=1, failed=1)
    logger.info("sync record failed", extra={"run_id": str(run.pk), "record_type": kind.record_type,
                                              "record_id": str(row.pk), "code": code})
