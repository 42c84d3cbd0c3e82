"""`manage.py mqtt_ingest` against the real Mosquitto and PostgreSQL: messages published with
paho reach their outcome, readers hear back, a crash loses and doubles nothing, and a shared
subscription splits the work between ingesters."""
from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection

from integrations.models import OutboxEvent
from integrations.services.tenancy import tenant_create
from iot.models import AccessSession, Court, Device, DeviceKind, Member, ProcessedMqttMessage
from tests.iot.conftest import active_ziggy
from tests.iot.mqtt_helpers import (
    IngesterProcess,
    Listener,
    Publisher,
    database_url,
    discard_session,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.mqtt, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def club(ziggy_sandbox):
    """A tenant of its own (its slug is this test's topic prefix) with Ziggy, a court and a reader."""
    from integrations.secrets.services import secret_store

    tenant = tenant_create(slug=unique("club-"), name="MQTT club")
    active_ziggy(tenant, api_key_ref=secret_store(tenant=tenant, name="ziggy-key", value=ziggy_sandbox.api_key),
                 client_id=ziggy_sandbox.client_id)
    court = Court.objects.create(tenant=tenant, code="c1", name="Court 1")
    Device.objects.create(tenant=tenant, external_id="reader-1", kind=DeviceKind.RFID_READER, court=court,
                          response_timeout_ms=2000)
    return tenant


@pytest.fixture
def ingesters(ziggy_sandbox):
    """`start(client_id=None, group=...)` runs an ingester on this test's database."""
    started: list[IngesterProcess] = []
    group = unique("g")

    def start(client_id: str | None = None, **options) -> IngesterProcess:
        ingester = IngesterProcess(database=database_url(connection.settings_dict),
                                   client_id=client_id or unique("ing-"), group=options.pop("group", group),
                                   env={"PROVIDER_ZIGGY_BASE_URL": ziggy_sandbox.url, **options.pop("env", {})},
                                   **options)
        started.append(ingester)
        return ingester.start()

    yield start
    for ingester in started:
        ingester.close()
    for client_id in {ingester.client_id for ingester in started}:
        discard_session(client_id)


@pytest.fixture
def publisher():
    client = Publisher()
    yield client
    client.close()


def test_scans_heartbeats_presses_and_malformed_messages_reach_their_outcome(club, ingesters, publisher):
    slug = club.slug
    Member.objects.create(tenant=club, first_name="Bia", rfid_card_id="04A1", credits=2)
    Device.objects.create(tenant=club, external_id="tablet-1", kind=DeviceKind.TABLET)
    ingester = ingesters()
    reader = Listener(f"{slug}/rfid/+/response")
    try:
        publisher.publish(f"{slug}/rfid/reader-1/scan", {"msg_id": "s-1", "card_id": "04A1"})
        publisher.publish(f"{slug}/rfid/reader-1/scan", {"msg_id": "s-2", "card_id": "FFFF"})
        publisher.publish(f"{slug}/tablet/tablet-1/status", {"battery": 64, "firmware": "3.1.0"})
        publisher.publish(f"{slug}/court/c1/button/pressed", {"msg_id": "p-1"})
        publisher.publish(f"{slug}/tablet/tablet-1/status", b"{not json")

        answers = sorted([reader.next()[1]["status"], reader.next()[1]["status"]])
        assert answers == ["denied", "granted"]
        assert wait_until(lambda: Device.objects.get(external_id="tablet-1").battery_percent == 64, timeout=10)
        assert wait_until(lambda: ProcessedMqttMessage.objects.filter(outcome="ignored_no_stream").exists(), timeout=10)
        assert wait_until(lambda: ingester.metric("iot_mqtt_malformed_messages_total", kind="tablet_status") == 1,
                          timeout=10)
    finally:
        reader.close()
    tablet = Device.objects.get(external_id="tablet-1")
    assert (tablet.status, tablet.firmware_version) == ("online", "3.1.0")
    assert Member.objects.get(rfid_card_id="04A1").credits == 1
    assert AccessSession.objects.filter(tenant=club).count() == 1


def test_the_reader_gets_a_denial_within_its_timeout_when_ziggy_is_unreachable(club, ingesters, publisher,
                                                                               ziggy_sandbox):
    Member.objects.create(tenant=club, first_name="Bia", rfid_card_id="04A1", credits=2)
    ingesters()
    ziggy_sandbox.delay(10.0)  # Ziggy accepts the connection and never answers in time
    reader = Listener(f"{club.slug}/rfid/reader-1/response")
    try:
        sent = time.monotonic()
        publisher.publish(f"{club.slug}/rfid/reader-1/scan", {"msg_id": "s-1", "card_id": "04A1"})
        _, answer, arrived = reader.next(timeout=5)
    finally:
        reader.close()
        ziggy_sandbox.delay(0)
    assert answer == {"status": "denied", "message": "Check-in unavailable, please try again", "color": "red"}
    assert arrived - sent < 2.0  # the reader's response_timeout_ms
    assert Member.objects.get(rfid_card_id="04A1").credits == 2


def _members(tenant, count: int) -> list[str]:
    # Throughput, not the reader's patience, is under test: a busy machine must not turn a
    # queued scan into a timeout denial.
    Device.objects.filter(tenant=tenant, external_id="reader-1").update(response_timeout_ms=30000)
    cards = [f"C{index:06d}" for index in range(count)]
    Member.objects.bulk_create([Member(tenant=tenant, first_name=f"M{index}", rfid_card_id=card, credits=1)
                                for index, card in enumerate(cards)])
    return cards


def _publish_scans(publisher: Publisher, slug: str, cards: list[str], *, per_second: float,
                   handled=None, backlog_limit: int = 0) -> threading.Thread:
    """Send one scan per card from a thread. With `backlog_limit`, the publisher waits while
    more than that many are unhandled: Mosquitto keeps at most `max_queued_messages` (1000 by
    default) for an offline session, so a backlog beyond it would be dropped by the broker,
    not lost by us."""
    def run():
        for index, card in enumerate(cards):
            while backlog_limit and index % 50 == 0 and index - handled() > backlog_limit:
                time.sleep(0.1)
            publisher.publish(f"{slug}/rfid/reader-1/scan", {"msg_id": f"scan-{index}", "card_id": card})
            time.sleep(1 / per_second)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _count(tenant) -> int:
    # The publisher's thread has its own database connection; close it when done with it.
    from django.db import connection as thread_connection

    try:
        return ProcessedMqttMessage.objects.filter(tenant=tenant).count()
    finally:
        thread_connection.close()


def _assert_each_scan_handled_once(tenant, cards: list[str], ziggy_sandbox) -> None:
    assert ProcessedMqttMessage.objects.filter(tenant=tenant).count() == len(cards)
    assert set(ProcessedMqttMessage.objects.filter(tenant=tenant).values_list("outcome", flat=True)) == {"granted"}
    assert AccessSession.objects.filter(tenant=tenant).count() == len(cards)
    assert not Member.objects.filter(tenant=tenant, credits__gt=0).exists()
    assert OutboxEvent.objects.filter(tenant_id=tenant.pk, event_type="member.checked_in").count() == len(cards)
    assert len(ziggy_sandbox.sessions) == len(cards)


def test_killing_the_ingester_mid_stream_loses_nothing_and_handles_every_scan_once(club, ingesters, publisher,
                                                                                   ziggy_sandbox):
    # given 2,000 members with one credit each, and an ingester handling their scans
    cards = _members(club, 2000)
    client_id = unique("ing-")
    first = ingesters(client_id)
    sending = _publish_scans(publisher, club.slug, cards, per_second=500, handled=lambda: _count(club),
                             backlog_limit=400)

    # when it is killed mid-stream (SIGKILL: nothing finishes, nothing is acknowledged late)
    assert wait_until(lambda: ProcessedMqttMessage.objects.filter(tenant=club).count() >= 200, timeout=30)
    first.kill()
    handled_before_restart = ProcessedMqttMessage.objects.filter(tenant=club).count()
    # and restarted under the same client id while the publisher keeps sending
    ingesters(client_id)
    sending.join(180)

    # then every scan is handled exactly once
    assert wait_until(lambda: ProcessedMqttMessage.objects.filter(tenant=club).count() == len(cards), timeout=180,
                      interval=0.5)
    time.sleep(1.0)  # anything redelivered after the count was reached would show up now
    assert 200 <= handled_before_restart < len(cards)
    _assert_each_scan_handled_once(club, cards, ziggy_sandbox)


def test_two_ingesters_on_a_shared_subscription_split_the_scans_and_none_twice(club, ingesters, publisher,
                                                                                ziggy_sandbox):
    cards = _members(club, 400)
    one, two = ingesters(), ingesters()

    _publish_scans(publisher, club.slug, cards, per_second=1000).join(30)

    assert wait_until(lambda: ProcessedMqttMessage.objects.filter(tenant=club).count() == len(cards), timeout=60)
    granted = [ingester.metric("iot_mqtt_messages_total", kind="rfid_scan", outcome="granted")
               for ingester in (one, two)]
    duplicates = [ingester.metric("iot_mqtt_messages_total", kind="rfid_scan", outcome="duplicate")
                  for ingester in (one, two)]
    assert sum(granted) == len(cards) and min(granted) > 0
    assert duplicates == [0.0, 0.0]
    _assert_each_scan_handled_once(club, cards, ziggy_sandbox)


def test_readyz_reports_an_unreachable_broker_and_the_process_keeps_retrying(club, ziggy_sandbox):
    from tests.iot.mqtt_helpers import free_port

    ingester = IngesterProcess(database=database_url(connection.settings_dict), client_id=unique("ing-"),
                               group=unique("g"), env={"MQTT_BROKER_URL": f"mqtt://127.0.0.1:{free_port()}"})
    try:
        ingester.start(wait_for="/healthz")
        status, body = ingester.get("/readyz")
        time.sleep(1.5)  # a reconnect attempt or two later, still alive and still honest
        assert ingester.process.poll() is None
    finally:
        ingester.close()
    assert status == 503
    assert json.loads(body)["checks"] == {"mqtt": {"ok": False}, "database": {"ok": True}}


def test_sigterm_stops_cleanly_and_the_session_keeps_what_arrives_meanwhile(club, ingesters, publisher):
    Member.objects.create(tenant=club, first_name="Bia", rfid_card_id="04A1", credits=2)
    client_id = unique("ing-")
    first = ingesters(client_id)
    assert first.get("/readyz")[0] == 200

    assert first.stop() == 0
    publisher.publish(f"{club.slug}/rfid/reader-1/scan", {"msg_id": "while-down", "card_id": "04A1"}, wait=True)
    ingesters(client_id)

    assert wait_until(lambda: ProcessedMqttMessage.objects.filter(message_id="while-down").exists(), timeout=15)
    assert Member.objects.get(rfid_card_id="04A1").credits == 1
