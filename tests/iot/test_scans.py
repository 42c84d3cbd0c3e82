"""RFID scans and court terminals through `telemetry_ingest` (the MQTT transport is tested in
test_mqtt_ingest.py): the decision, the Ziggy check-in, credits, sessions, the answer, and a
redelivered message changing nothing."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from integrations.models import OutboxEvent
from integrations.services.tenancy import tenant_create
from iot.models import AccessSession, Device, DeviceKind, Member, ProcessedMqttMessage
from iot.services import telemetry_ingest
from tests.iot.conftest import now, scan_payload

pytestmark = pytest.mark.django_db
SCAN = "alpha/rfid/reader-7/scan"
RESPONSE = "alpha/rfid/reader-7/response"


def _scan(card_id: str, msg_id: str = "m-1", topic: str = SCAN):
    return telemetry_ingest(topic=topic, payload=scan_payload(card_id, msg_id), received_at=now())


def _counter(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_member_with_credits_is_checked_in_at_ziggy_charged_and_answered(court_world, ziggy_sandbox):
    member = court_world.member("04A2B3C4", credits=3)

    result = _scan("04a2b3c4")

    [request] = ziggy_sandbox.requests
    session = AccessSession.objects.get()
    member.refresh_from_db()
    assert (result.outcome, [(r.topic, r.payload) for r in result.replies]) == (
        "granted", [(RESPONSE, {"status": "granted", "message": "Welcome, Ana!", "color": "green"})])
    assert (request.method, request.path) == ("POST", "/api/v1/access/checkin")
    assert request.headers["authorization"] == f"Bearer {ziggy_sandbox.api_key}"
    assert request.headers["x-client-id"] == ziggy_sandbox.client_id
    assert {k: request.parsed_body[k] for k in ("user_id", "court_id", "device_id")} == {
        "user_id": str(member.pk), "court_id": "z-court-7", "device_id": "reader-7"}
    assert member.credits == 2
    assert (session.member, session.court, session.status) == (member, court_world.court, "active")
    assert session.external_session_id in ziggy_sandbox.sessions
    event = OutboxEvent.objects.get(event_type="member.checked_in")
    assert event.data["session_id"] == str(session.pk) and event.data["source"] == "rfid"


def test_a_redelivered_scan_changes_nothing_and_is_not_answered_twice(court_world, ziggy_sandbox):
    member = court_world.member("04A2B3C4", credits=3)
    _scan("04A2B3C4", msg_id="m-42")

    again = _scan("04A2B3C4", msg_id="m-42")

    member.refresh_from_db()
    assert (again.outcome, again.replies) == ("duplicate", [])
    assert member.credits == 2
    assert AccessSession.objects.count() == 1
    assert ziggy_sandbox.request_count == 1
    assert OutboxEvent.objects.filter(event_type="member.checked_in").count() == 1


def test_a_second_scan_while_checked_in_is_welcomed_back_without_charge(court_world, ziggy_sandbox):
    member = court_world.member("04A2B3C4", credits=3)
    _scan("04A2B3C4", msg_id="m-1")

    result = _scan("04A2B3C4", msg_id="m-2")

    member.refresh_from_db()
    assert (result.outcome, result.replies[0].payload["message"]) == ("already_checked_in", "Welcome back, Ana!")
    assert member.credits == 2 and ziggy_sandbox.request_count == 1


@pytest.mark.parametrize(("fields", "message", "outcome"), [
    ({"credits": 0}, "No credits left", "denied_no_credits"),
    ({"is_active": False}, "Membership inactive", "denied_inactive"),
    ({"membership_valid_until": timezone.localdate() - timedelta(days=1)}, "Membership expired", "denied_expired"),
])
def test_members_who_may_not_enter_are_denied_without_asking_ziggy(court_world, ziggy_sandbox, fields, message,
                                                                     outcome):
    court_world.member("04A2B3C4", **({"credits": 2} | fields))

    result = _scan("04A2B3C4")

    assert (result.outcome, result.replies[0].payload) == (
        outcome, {"status": "denied", "message": message, "color": "red"})
    assert ziggy_sandbox.request_count == 0 and not AccessSession.objects.exists()
    assert ProcessedMqttMessage.objects.get().outcome == outcome


def test_an_unknown_card_is_denied(court_world, ziggy_sandbox):
    result = _scan("DEADBEEF")

    assert (result.outcome, result.replies[0].payload["message"]) == ("denied_unknown_card", "Card not recognised")


def test_ziggy_unreachable_is_a_clear_denial_and_nothing_is_charged(court_world, ziggy_sandbox):
    member = court_world.member("04A2B3C4", credits=3)
    ziggy_sandbox.go_down()

    result = _scan("04A2B3C4")

    member.refresh_from_db()
    assert (result.outcome, result.replies[0].payload) == ("denied_unavailable", {
        "status": "denied", "message": "Check-in unavailable, please try again", "color": "red"})
    assert member.credits == 3 and not AccessSession.objects.exists()


def test_a_slow_ziggy_is_cut_off_within_the_readers_timeout(court_world, ziggy_sandbox):
    court_world.member("04A2B3C4", credits=3)
    ziggy_sandbox.delay(5.0)  # the reader gives up after 2 s

    started = time.monotonic()
    result = _scan("04A2B3C4")
    elapsed = time.monotonic() - started

    assert result.outcome == "denied_unavailable"
    assert elapsed < 2.0
    ziggy_sandbox.delay(0)


def test_an_open_breaker_denies_at_once_without_calling_ziggy(court_world, ziggy_sandbox, settings):
    court_world.member("04A2B3C4", credits=30)
    ziggy_sandbox.fail_next(settings.RESILIENCE_BREAKER_FAIL_MAX, status=503)
    for attempt in range(settings.RESILIENCE_BREAKER_FAIL_MAX):
        assert _scan("04A2B3C4", msg_id=f"fail-{attempt}").outcome == "denied_unavailable"
    calls_before = ziggy_sandbox.request_count
    ziggy_sandbox.delay(5.0)

    started = time.monotonic()
    result = _scan("04A2B3C4", msg_id="after-trip")
    elapsed = time.monotonic() - started

    assert result.outcome == "denied_unavailable" and elapsed < 0.5
    assert ziggy_sandbox.request_count == calls_before
    ziggy_sandbox.delay(0)


def test_a_tenant_without_an_active_access_control_config_denies(court_world, ziggy_sandbox):
    court_world.member("04A2B3C4", credits=3)
    court_world.ziggy.status = "paused"
    court_world.ziggy.save()

    result = _scan("04A2B3C4")

    assert (result.outcome, result.replies[0].payload["message"]) == (
        "denied_not_configured", "Check-in is not available here")


def test_a_reader_without_a_court_denies(court_world):
    court_world.member("04A2B3C4", credits=3)
    Device.objects.filter(pk=court_world.reader.pk).update(court=None)

    assert _scan("04A2B3C4").outcome == "denied_no_court"


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'{"card_id": "04A2"}', b'{"msg_id": "m", "card_id": ""}',
                                     b'{"msg_id": "m", "card_id": "04/A2"}', b'{"msg_id": 7, "card_id": "04A2"}',
                                     b"{" + b" " * 5000 + b"}"])
def test_malformed_scans_are_counted_and_answered_never_raised(court_world, payload):
    before = _counter("iot_mqtt_malformed_messages_total", kind="rfid_scan")

    result = telemetry_ingest(topic=SCAN, payload=payload, received_at=now())

    assert (result.outcome, result.replies[0].topic, result.replies[0].payload["status"]) == (
        "malformed", RESPONSE, "denied")
    assert _counter("iot_mqtt_malformed_messages_total", kind="rfid_scan") == before + 1
    assert not ProcessedMqttMessage.objects.exists()


def test_an_unknown_reader_of_a_known_tenant_is_counted_and_denied(court_world):
    before = _counter("iot_mqtt_unknown_device_messages_total", kind="rfid_scan")

    result = telemetry_ingest(topic="alpha/rfid/reader-99/scan", payload=scan_payload("04A2", "m-1"),
                              received_at=now())

    assert (result.outcome, result.replies[0].payload["message"]) == ("unknown_device", "Device not registered")
    assert result.replies[0].topic == "alpha/rfid/reader-99/response"
    assert _counter("iot_mqtt_unknown_device_messages_total", kind="rfid_scan") == before + 1


def test_a_prefix_that_is_none_of_our_tenants_is_counted_but_not_answered(court_world):
    before = _counter("iot_mqtt_unknown_device_messages_total", kind="rfid_scan")

    result = telemetry_ingest(topic="nosuchclub/rfid/reader-7/scan", payload=scan_payload("04A2", "m-1"),
                              received_at=now())

    assert (result.outcome, result.replies) == ("unknown_device", [])
    assert _counter("iot_mqtt_unknown_device_messages_total", kind="rfid_scan") == before + 1


def test_unrecognised_topics_are_counted(court_world):
    before = _counter("iot_mqtt_malformed_messages_total", kind="unknown")

    result = telemetry_ingest(topic="alpha/rfid/reader-7/scan/extra", payload=b"{}", received_at=now())

    assert (result.kind, result.outcome, result.replies) == ("unknown", "malformed", [])
    assert _counter("iot_mqtt_malformed_messages_total", kind="unknown") == before + 1


def test_a_bare_topic_finds_the_tenant_through_the_device_registry(court_world, ziggy_sandbox):
    court_world.member("04A2B3C4", credits=3)

    result = _scan("04A2B3C4", topic="rfid/reader-7/scan")

    assert (result.outcome, result.replies[0].topic) == ("granted", "rfid/reader-7/response")


def test_a_bare_topic_naming_a_device_two_tenants_have_is_refused(court_world):
    other = tenant_create(slug="beta", name="Beta Club")
    Device.objects.create(tenant=other, external_id="reader-7", kind=DeviceKind.RFID_READER)

    result = _scan("04A2B3C4", topic="rfid/reader-7/scan")

    assert result.outcome == "ambiguous_device"


def test_a_court_terminal_checks_in_and_out_by_crm_id(court_world, ziggy_sandbox):
    member = court_world.member("", credits=2, external_id="crm-77")
    court_world.device("terminal-7", kind=DeviceKind.CHECKIN_TERMINAL)
    body = {"member_id": "crm-77", "device_id": "terminal-7"}

    checked_in = telemetry_ingest(topic="alpha/court/court-7/checkin",
                                  payload=json.dumps(body | {"msg_id": "in-1"}).encode(), received_at=now())
    checked_out = telemetry_ingest(topic="alpha/court/court-7/checkout",
                                   payload=json.dumps(body | {"msg_id": "out-1"}).encode(), received_at=now())

    session = AccessSession.objects.get()
    member.refresh_from_db()
    assert (checked_in.outcome, checked_in.replies[0].topic) == ("granted", "alpha/court/court-7/checkin/response")
    assert (checked_out.outcome, checked_out.replies[0].payload["message"]) == ("checked_out", "Goodbye, Ana!")
    assert (session.status, member.credits) == ("closed", 1)
    assert ziggy_sandbox.sessions[session.external_session_id]["status"] == "closed"
    assert OutboxEvent.objects.filter(event_type="member.checked_out").count() == 1


def test_a_check_out_without_an_open_session_is_denied(court_world):
    court_world.member("", external_id="crm-77")

    result = telemetry_ingest(topic="alpha/court/court-7/checkout",
                              payload=b'{"msg_id": "out-1", "member_id": "crm-77"}', received_at=now())

    assert (result.outcome, result.replies[0].payload["message"]) == ("denied_no_session",
                                                                      "No open check-in at this court")


def test_ziggy_saying_already_checked_in_opens_the_session_a_crashed_attempt_left(court_world, ziggy_sandbox):
    # given Ziggy holds a session for this member whose local commit never happened
    member = court_world.member("04A2B3C4", credits=3)
    ziggy_sandbox.sessions["ses_orphan"] = {
        "session_id": "ses_orphan", "user_id": str(member.pk), "court_id": "z-court-7", "status": "active",
        "checked_in_at": "2026-01-01T10:00:00Z", "checked_out_at": None, "consumption_total": 0.0}

    result = _scan("04A2B3C4")

    member.refresh_from_db()
    assert result.outcome == "granted"
    assert AccessSession.objects.get().external_session_id == "ses_orphan"
    assert member.credits == 2


def test_a_member_who_spends_the_last_credit_meanwhile_is_denied_and_ziggy_is_undone(court_world, ziggy_sandbox,
                                                                                  monkeypatch):
    # given the member's last credit goes elsewhere while Ziggy is answering this check-in
    from iot.services import access_control

    member = court_world.member("04A2B3C4", credits=1)
    real_check_in = access_control.check_in

    def check_in_while_the_credit_is_spent(**kwargs):
        result = real_check_in(**kwargs)
        Member.objects.filter(pk=member.pk).update(credits=0)
        return result

    monkeypatch.setattr(access_control, "check_in", check_in_while_the_credit_is_spent)

    result = _scan("04A2B3C4")

    [ziggy_session] = ziggy_sandbox.sessions.values()
    assert (result.outcome, result.replies[0].payload["message"]) == ("denied_no_credits", "No credits left")
    assert not AccessSession.objects.exists()
    assert ziggy_session["status"] == "closed"
    assert [r.path for r in ziggy_sandbox.requests] == ["/api/v1/access/checkin", "/api/v1/access/checkout"]


def test_members_never_go_below_zero_credits(court_world):
    member = court_world.member("04A2B3C4", credits=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.filter(pk=member.pk).update(credits=-1)


def test_ledger_entries_older_than_any_redelivery_are_purged(court_world, settings):
    from iot.services.ledger import processed_messages_purge

    settings.IOT_PROCESSED_MESSAGE_RETENTION_HOURS = 24
    court_world.member("04A2B3C4", credits=0)
    _scan("04A2B3C4", msg_id="old")
    _scan("04A2B3C4", msg_id="new")
    ProcessedMqttMessage.objects.filter(message_id="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert processed_messages_purge() == 1
    assert list(ProcessedMqttMessage.objects.values_list("message_id", flat=True)) == ["new"]
