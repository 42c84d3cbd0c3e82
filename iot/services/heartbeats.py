"""Device health: heartbeats coalesced in memory and written with one UPDATE per flush, and the
sweep that marks silent devices offline.

Every message from a device counts as a sign of life; a tablet's status beat also carries its
battery and firmware. Messages are folded per device into the pending write (the newest wins),
and `HeartbeatBuffer.flush` writes all pending devices with one statement per 1,000 devices,
every settings.IOT_HEARTBEAT_FLUSH_MS or as soon as IOT_HEARTBEAT_FLUSH_MAX messages are
waiting. `add` returns a Future that completes when the write holding that message has
committed: the ingester acknowledges the MQTT message only then, so a crash re-delivers it.

Re-applying a beat changes nothing: a row is only written when the beat is newer than the
stored `last_seen_at`, and a beat's time is its own `ts` (never later than its receipt), so
a redelivered beat finds the row already at that time.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from integrations.events import event_emit
from iot import metrics
from iot.models import Device, DeviceStatus

logger = logging.getLogger(__name__)
_ROWS_PER_STATEMENT = 1000


@dataclass
class _Beat:
    seen_at: datetime
    battery_percent: int | None
    firmware_version: str

    def merge(self, newer: _Beat) -> None:
        if newer.seen_at < self.seen_at:
            newer, older = self, newer
        else:
            older = self
        self.seen_at = newer.seen_at
        self.battery_percent = newer.battery_percent if newer.battery_percent is not None else older.battery_percent
        self.firmware_version = newer.firmware_version or older.firmware_version


class HeartbeatBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict = {}
        self._messages = 0
        self._generation: Future = Future()

    def add(self, *, device_pk, seen_at: datetime, battery_percent: int | None = None,
            firmware_version: str = "") -> Future:
        beat = _Beat(seen_at=seen_at, battery_percent=battery_percent, firmware_version=firmware_version)
        with self._lock:
            pending = self._pending.get(device_pk)
            if pending is None:
                self._pending[device_pk] = beat
            else:
                pending.merge(beat)
                metrics.heartbeats_coalesced_total.inc()
            self._messages += 1
            generation = self._generation
            full = self._messages >= settings.IOT_HEARTBEAT_FLUSH_MAX
        if full:
            self.flush(raise_errors=False)
        return generation

    @property
    def waiting(self) -> int:
        return self._messages

    def flush(self, *, raise_errors: bool = True) -> int:
        """Write every pending beat; returns the number of device rows written."""
        with self._flush_lock:
            with self._lock:
                pending, generation = self._pending, self._generation
                self._pending, self._messages, self._generation = {}, 0, Future()
                successor = self._generation
            if not pending:
                generation.set_result(0)
                return 0
            try:
                written = _write(pending)
            except Exception as exc:  # the database is down: keep the beats for the next flush
                self._restore(pending, generation, successor)
                logger.warning("heartbeat flush failed, kept for the next one",
                               extra={"devices": len(pending), "error": exc.__class__.__name__})
                if raise_errors:
                    raise
                return 0
            generation.set_result(written)
            metrics.heartbeat_flushes_total.inc()
            metrics.heartbeat_rows_total.inc(written)
            return written

    def discard(self) -> None:
        """Drop what is pending without writing it (tests; nothing in production calls this)."""
        with self._lock:
            generation = self._generation
            self._pending, self._messages, self._generation = {}, 0, Future()
        generation.set_result(0)

    def _restore(self, pending: dict, generation: Future, successor: Future) -> None:
        with self._lock:
            for device_pk, beat in pending.items():
                current = self._pending.get(device_pk)
                if current is None:
                    self._pending[device_pk] = beat
                else:
                    current.merge(beat)
            self._messages += len(pending)
        # Whoever waits on the failed write is answered by the next write that succeeds.
        successor.add_done_callback(lambda done: _settle_like(generation, done))


def _settle_like(target: Future, source: Future) -> None:
    if source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


_POSTGRES_UPDATE = """
UPDATE {table} AS d SET last_seen_at = v.seen_at, status = %s, updated_at = %s,
  battery_percent = COALESCE(v.battery, d.battery_percent),
  firmware_version = COALESCE(NULLIF(v.firmware, ''), d.firmware_version)
FROM (VALUES {rows}) AS v(id, seen_at, battery, firmware)
WHERE d.id = v.id AND (d.last_seen_at IS NULL OR d.last_seen_at < v.seen_at)
"""
_POSTGRES_ROW = "(%s::uuid, %s::timestamptz, %s::integer, %s::varchar)"
_SQLITE_UPDATE = """
WITH v(id, seen_at, battery, firmware) AS (VALUES {rows})
UPDATE {table} SET last_seen_at = v.seen_at, status = %s, updated_at = %s,
  battery_percent = COALESCE(v.battery, {table}.battery_percent),
  firmware_version = COALESCE(NULLIF(v.firmware, ''), {table}.firmware_version)
FROM v
WHERE {table}.id = v.id AND ({table}.last_seen_at IS NULL OR {table}.last_seen_at < v.seen_at)
"""
_SQLITE_ROW = "(%s, %s, %s, %s)"


def _write(pending: dict) -> int:
    table = connection.ops.quote_name(Device._meta.db_table)
    postgres = connection.vendor == "postgresql"
    template, row = (_POSTGRES_UPDATE, _POSTGRES_ROW) if postgres else (_SQLITE_UPDATE, _SQLITE_ROW)
    id_field, time_field = Device._meta.pk, Device._meta.get_field("last_seen_at")
    now = time_field.get_db_prep_value(timezone.now(), connection)
    items = sorted(pending.items(), key=lambda item: str(item[0]))  # one lock order for every writer
    written = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            for start in range(0, len(items), _ROWS_PER_STATEMENT):
                chunk = items[start:start + _ROWS_PER_STATEMENT]
                params: list = []
                for device_pk, beat in chunk:
                    params += [id_field.get_db_prep_value(device_pk, connection),
                               time_field.get_db_prep_value(beat.seen_at, connection),
                               beat.battery_percent, beat.firmware_version[:64]]
                sql = template.format(table=table, rows=", ".join([row] * len(chunk)))
                # The status and timestamp placeholders come before the rows in both statements.
                position = 0 if postgres else len(chunk) * 4
                cursor.execute(sql, params[:position] + [DeviceStatus.ONLINE.value, now] + params[position:])
                written += _rows_changed(cursor)
    return written


def _rows_changed(cursor) -> int:
    if cursor.rowcount >= 0:
        return cursor.rowcount
    # Python's sqlite3 reports -1 for a statement starting with WITH; SQLite itself knows.
    cursor.execute("SELECT changes()")
    return cursor.fetchone()[0]


_buffer = HeartbeatBuffer()


def heartbeat_buffer() -> HeartbeatBuffer:
    return _buffer


def heartbeats_flush() -> int:
    return _buffer.flush()


def device_seen(*, device_pk, seen_at: datetime, battery_percent: int | None = None,
                firmware_version: str = "") -> Future:
    return _buffer.add(device_pk=device_pk, seen_at=seen_at, battery_percent=battery_percent,
                       firmware_version=firmware_version)


def devices_mark_offline(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark devices silent for IOT_DEVICE_OFFLINE_AFTER_SECONDS offline, each with a
    `device.offline` event. Rows being written by a flush are skipped and looked at next time."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.IOT_DEVICE_OFFLINE_AFTER_SECONDS)
    with transaction.atomic():
        silent = list(Device.objects.select_for_update(skip_locked=True, of=("self",))
                      .filter(status=DeviceStatus.ONLINE, last_seen_at__lt=cutoff)
                      .select_related("court").order_by("last_seen_at")[:batch])
        for device in silent:
            Device.objects.filter(pk=device.pk).update(status=DeviceStatus.OFFLINE, updated_at=now)
            event_emit(tenant_id=device.tenant_id, event_type="device.offline", data={
                "device_id": str(device.pk), "external_id": device.external_id, "kind": device.kind,
                "court_id": str(device.court_id) if device.court_id else None,
                "court_code": device.court.code if device.court else None,
                "last_seen_at": device.last_seen_at.isoformat(),
                "silent_for_seconds": int((now - device.last_seen_at).total_seconds())})
    if silent:
        logger.info("devices marked offline", extra={"devices": len(silent)})
    return len(silent)
