"""Device health: heartbeats coalesced into one write, a redelivered beat changing nothing, and
the sweep that marks silent devices offline."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.models import OutboxEvent
from iot.models import Device, DeviceKind
from iot.services import telemetry_ingest
from iot.services.heartbeats import devices_mark_offline, heartbeats_flush
from tests.iot.conftest import now

pytestmark = pytest.mark.django_db


def _beat(tablet: str, *, ts, battery: int | None = None, firmware: str = ""):
    body = {"ts": ts.isoformat()} | ({"battery": battery} if battery is not None else {}) | (
        {"firmware": firmware} if firmware else {})
    return telemetry_ingest(topic=f"alpha/tablet/{tablet}/status", payload=json.dumps(body).encode(),
                            received_at=now())


def test_many_beats_become_one_write_holding_each_devices_newest_beat(court_world):
    tablets = [court_world.device(f"tab-{i}") for i in range(20)]
    start = now() - timedelta(seconds=60)
    results = []
    with CaptureQueriesContext(connection) as queries:
        for second in range(10):
            for tablet in tablets:
                results.append(_beat(tablet.external_id, ts=start + timedelta(seconds=second), battery=90 - second,
                                     firmware=f"1.{second}.0"))
    lookups = len(queries)

    with CaptureQueriesContext(connection) as flush_queries:
        written = heartbeats_flush()

    # one registry lookup per device and one for the tenant prefix, then cached; no write per beat
    assert lookups == len(tablets) + 1
    assert written == len(tablets)
    assert sum("UPDATE" in q["sql"] for q in flush_queries.captured_queries) == 1
    assert all(result.outcome == "buffered" and result.committed.done() for result in results)
    for tablet in Device.objects.filter(kind=DeviceKind.TABLET):
        assert (tablet.status, tablet.battery_percent, tablet.firmware_version) == ("online", 81, "1.9.0")
        assert tablet.last_seen_at == start + timedelta(seconds=9)


def test_an_older_or_redelivered_beat_changes_nothing(court_world):
    court_world.device("tab-1")
    newest = now() - timedelta(seconds=5)
    _beat("tab-1", ts=newest, battery=50, firmware="2.0.0")
    heartbeats_flush()
    before = Device.objects.get(external_id="tab-1")

    _beat("tab-1", ts=newest, battery=50, firmware="2.0.0")  # the same beat again (QoS 1 redelivery)
    _beat("tab-1", ts=newest - timedelta(seconds=30), battery=99, firmware="1.0.0")  # late and old
    written = heartbeats_flush()

    after = Device.objects.get(external_id="tab-1")
    assert written == 0
    assert (after.last_seen_at, after.battery_percent, after.firmware_version, after.updated_at) == (
        before.last_seen_at, 50, "2.0.0", before.updated_at)


def test_a_beat_from_a_clock_running_ahead_counts_at_its_receipt(court_world):
    court_world.device("tab-1")
    received = now()

    telemetry_ingest(topic="alpha/tablet/tab-1/status",
                     payload=json.dumps({"ts": (received + timedelta(minutes=10)).isoformat()}).encode(),
                     received_at=received)
    heartbeats_flush()

    assert Device.objects.get(external_id="tab-1").last_seen_at == received


def test_silent_devices_go_offline_once_with_an_event_and_come_back_with_a_beat(court_world, settings):
    settings.IOT_DEVICE_OFFLINE_AFTER_SECONDS = 60
    court_world.device("tab-quiet")
    court_world.device("tab-chatty")
    _beat("tab-quiet", ts=now() - timedelta(seconds=120))
    _beat("tab-chatty", ts=now() - timedelta(seconds=10))
    heartbeats_flush()

    assert devices_mark_offline() == 1
    assert devices_mark_offline() == 0

    quiet = Device.objects.get(external_id="tab-quiet")
    event = OutboxEvent.objects.get(event_type="device.offline")
    assert (quiet.status, Device.objects.get(external_id="tab-chatty").status) == ("offline", "online")
    assert (event.data["external_id"], event.data["court_code"], event.data["silent_for_seconds"] >= 120) == (
        "tab-quiet", "court-7", True)

    _beat("tab-quiet", ts=now())
    heartbeats_flush()
    assert Device.objects.get(external_id="tab-quiet").status == "online"


def test_a_failed_write_keeps_the_beats_and_answers_their_waiters_when_a_later_one_succeeds(court_world,
                                                                                        monkeypatch):
    from iot.services import heartbeats

    court_world.device("tab-1")
    result = _beat("tab-1", ts=now(), battery=42)
    real_write = heartbeats._write

    def database_down(pending):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(heartbeats, "_write", database_down)
    with pytest.raises(DatabaseError):
        heartbeats_flush()
    assert not result.committed.done()

    monkeypatch.setattr(heartbeats, "_write", real_write)
    assert heartbeats_flush() == 1
    assert result.committed.done()
    assert Device.objects.get(external_id="tab-1").battery_percent == 42


def test_an_unknown_tablet_is_counted_not_buffered(court_world):
    result = _beat("tab-ghost", ts=timezone.now())

    assert (result.outcome, result.committed) == ("unknown_device", None)
