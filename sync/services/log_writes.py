"""The two sync-log writes every pushed record makes, each in one round trip.

A run of ten thousand records pays for these writes ten thousand times, and the ORM spends four
round trips on each (BEGIN, two UPDATEs, COMMIT; or a savepoint around an INSERT). Here:
- the pending entry is one `INSERT … ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL and
  SQLite 3.35+); a conflict (another worker got there first) answers no row;
- "synchronised" is, on PostgreSQL, one statement whose data-modifying CTE updates the log entry
  and whose outer UPDATE counts it on the run: both or neither, without a transaction block.
  SQLite has no data-modifying CTEs, so there the ORM writes both in one transaction.
"""
from __future__ import annotations

import uuid
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from sync.models import LogState, SyncLogEntry, SyncRun


@lru_cache(maxsize=None)
def _insert_sql(vendor: str) -> tuple[str, tuple]:
    meta, quote = SyncLogEntry._meta, connection.ops.quote_name
    fields = tuple(meta.concrete_fields)
    conflict = ", ".join(quote(meta.get_field(name).column) for name in ("integration", "record_type", "record_id"))
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT ({conflict}) DO NOTHING "
           f"RETURNING {quote(meta.pk.column)}")
    return sql, fields


def pending_insert(*, run: SyncRun, record_type: str, record_id: str, reference: str,
                   digest: str) -> SyncLogEntry | None:
    """A new pending entry, or None when the record already has one."""
    now = timezone.now()
    entry = SyncLogEntry(id=uuid.uuid4(), tenant_id=run.tenant_id, created_at=now, updated_at=now,
                         integration_id=run.integration_id, record_type=record_type, record_id=record_id,
                         reference=reference, state=LogState.PENDING, pending_hash=digest, last_run_id=run.pk)
    sql, fields = _insert_sql(connection.vendor)
    params = [field.get_db_prep_save(getattr(entry, field.attname), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchone()
    return entry if inserted else None


@lru_cache(maxsize=None)
def _synced_sql() -> str:
    quote = connection.ops.quote_name
    log, run = SyncLogEntry._meta, SyncRun._meta
    column = {name: quote(log.get_field(name).column) for name in (
        "state", "remote_id", "content_hash", "pending_hash", "synced_at", "remote_updated_at", "last_run",
        "last_error", "updated_at")}
    assignments = ", ".join(f"{column[name]} = %s" for name in column)
    return (f"WITH entry AS (UPDATE {quote(log.db_table)} SET {assignments} WHERE {quote(log.pk.column)} = %s) "
            f"UPDATE {quote(run.db_table)} SET read_count = read_count + 1, "
            f"created_count = created_count + %s, updated_count = updated_count + %s "
            f"WHERE {quote(run.pk.column)} = %s")


def synced_write(*, run: SyncRun, entry_id, remote_id: str, digest: str, remote_updated_at, updated: bool) -> None:
    """The entry is synchronised (provider id, hash, time) and the run counts it, atomically."""
    now = timezone.now()
    values = {"state": LogState.SYNCED, "remote_id": remote_id[:255], "content_hash": digest, "pending_hash": "",
              "synced_at": now, "remote_updated_at": remote_updated_at, "last_run": run.pk, "last_error": "",
              "updated_at": now}
    if connection.vendor != "postgresql":
        with transaction.atomic():
            SyncLogEntry.objects.filter(pk=entry_id).update(**{k if k != "last_run" else "last_run_id": v
                                                               for k, v in values.items()})
            SyncRun.objects.filter(pk=run.pk).update(read_count=F("read_count") + 1,
                                                     created_count=F("created_count") + int(not updated),
                                                     updated_count=F("updated_count") + int(updated))
        return
    log = SyncLogEntry._meta
    params = [log.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    params += [log.pk.get_db_prep_save(entry_id, connection), int(not updated), int(updated),
               SyncRun._meta.pk.get_db_prep_save(run.pk, connection)]
    with connection.cursor() as cursor:
        cursor.execute(_synced_sql(), params)
