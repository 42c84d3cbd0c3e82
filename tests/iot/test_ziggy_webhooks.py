"""Ziggy's signed webhooks on the webhooks framework (/webhooks/ziggy/<config id>/) moving
sessions and consumption forward: Ziggy-gate check-ins, our own check-ins echoing back,
check-outs with their total, consumption once per event, and events arriving out of order."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.models import OutboxEvent
from iot.models import AccessSession, ConsumptionRecord
from iot.services import telemetry_ingest
from tests.iot.conftest import now, post_webhook, scan_payload
from tests.sandboxes.ziggy import signed_webhook
from webhooks.models import InboundEvent
from webhooks.services.inbound import inbound_events_dispatch_due

pytestmark = pytest.mark.django_db
SIGNING = "ziggy-partner-signing-secret"


@pytest.fixture
def ziggy_hooks(court_world, store_secret):
    court_world.ziggy.webhook_signing_key_ref = store_secret("ziggy-signing", SIGNING)
    court_world.ziggy.save()
    return court_world


def _post(client, capture, world, event_type: str, data: dict, *, secret: str = SIGNING):
    body, headers = signed_webhook(event_type, data, secret=secret)
    return post_webhook(client, capture, provider="ziggy", config=world.ziggy, body=body, headers=headers)


def _check_in(member, *, session_id="ses_gate_1", court_id="z-court-7"):
    return {"session_id": session_id, "user_id": str(member.pk), "court_id": court_id,
            "checked_in_at": "2026-01-01T17:58:02.901Z", "device_id": "gate-north-2"}


def test_a_check_in_at_ziggys_own_gate_opens_a_session_without_charging(
        client, ziggy_hooks, django_capture_on_commit_callbacks):
    member = ziggy_hooks.member("04A2", credits=3)

    response = _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin", _check_in(member))

    session = AccessSession.objects.get()
    member.refresh_from_db()
    assert response.status_code == 200
    assert (session.external_session_id, session.member, session.court, session.status) == (
        "ses_gate_1", member, ziggy_hooks.court, "active")
    assert session.checked_in_at.isoformat() == "2026-01-01T17:58:02.901000+00:00"
    assert member.credits == 3
    assert OutboxEvent.objects.get(event_type="member.checked_in").data["source"] == "ziggy"
    assert InboundEvent.objects.get().status == "handled"


def test_a_crm_id_and_a_court_code_are_understood_too(client, ziggy_hooks, django_capture_on_commit_callbacks):
    ziggy_hooks.member("04A2", external_id="crm-9")

    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin",
          {"session_id": "ses_2", "user_id": "crm-9", "court_id": "court-7"})

    assert AccessSession.objects.get().external_session_id == "ses_2"


def test_our_own_check_in_echoing_back_changes_nothing(client, ziggy_hooks, ziggy_sandbox,
                                                       django_capture_on_commit_callbacks):
    member = ziggy_hooks.member("04A2", credits=3)
    telemetry_ingest(topic="alpha/rfid/reader-7/scan", payload=scan_payload("04A2", "m-1"), received_at=now())
    session = AccessSession.objects.get()

    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin",
          _check_in(member, session_id=session.external_session_id))

    member.refresh_from_db()
    assert AccessSession.objects.count() == 1 and member.credits == 2
    assert OutboxEvent.objects.filter(event_type="member.checked_in").count() == 1


def test_check_out_closes_with_ziggys_total_and_a_late_check_in_does_not_reopen(
        client, ziggy_hooks, django_capture_on_commit_callbacks):
    member = ziggy_hooks.member("04A2")
    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin", _check_in(member))

    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkout", {
        "session_id": "ses_gate_1", "checked_out_at": "2026-01-01T19:30:10.655Z", "duration_minutes": 92,
        "consumption_total": 85.0})
    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin",
          _check_in(member) | {"device_id": "gate-south"})

    session = AccessSession.objects.get()
    assert (session.status, session.consumption_total) == ("closed", Decimal("85.00"))
    assert session.checked_out_at.isoformat() == "2026-01-01T19:30:10.655000+00:00"
    assert OutboxEvent.objects.get(event_type="member.checked_out").data["consumption_total"] == "85.00"


def test_each_consumption_is_recorded_once_and_adds_to_the_open_session(
        client, ziggy_hooks, django_capture_on_commit_callbacks, settings):
    settings.IOT_CONSUMPTION_CURRENCY = "SEK"
    member = ziggy_hooks.member("04A2")
    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin", _check_in(member))
    drink = {"session_id": "ses_gate_1", "item_id": "sku-1042", "item_name": "Sports drink 50 cl", "quantity": 2,
             "unit_price": 32.5, "total_price": 65.0}
    body, headers = signed_webhook("consumption.recorded", drink, secret=SIGNING)

    for _ in range(2):  # the same delivery twice: stored once by the framework
        post_webhook(client, django_capture_on_commit_callbacks, provider="ziggy", config=ziggy_hooks.ziggy,
                     body=body, headers=headers)
    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "consumption.recorded",
          drink | {"item_id": "sku-7", "item_name": "Towel", "quantity": 1, "unit_price": 20, "total_price": 20})

    records = sorted(ConsumptionRecord.objects.values_list("description", "quantity", "amount", "currency"))
    assert records == [("Sports drink 50 cl", 2, Decimal("65.00"), "SEK"), ("Towel", 1, Decimal("20.00"), "SEK")]
    assert AccessSession.objects.get().consumption_total == Decimal("85.00")


def test_a_check_out_before_its_check_in_is_retried_until_the_check_in_arrives(
        client, ziggy_hooks, django_capture_on_commit_callbacks):
    member = ziggy_hooks.member("04A2")
    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkout",
          {"session_id": "ses_gate_1", "checked_out_at": timezone.now().isoformat(), "consumption_total": 0})
    early = InboundEvent.objects.get()
    assert (early.status, "not known yet" in early.last_error) == ("received", True)

    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin", _check_in(member))
    InboundEvent.objects.filter(pk=early.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    inbound_events_dispatch_due()

    early.refresh_from_db()
    assert early.status == "handled"
    assert AccessSession.objects.get().status == "closed"


def test_events_for_members_or_courts_the_hub_does_not_know_are_dropped(
        client, ziggy_hooks, django_capture_on_commit_callbacks):
    _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin",
          {"session_id": "ses_x", "user_id": "stranger", "court_id": "z-court-7"})

    assert InboundEvent.objects.get().status == "handled"
    assert not AccessSession.objects.exists()


def test_a_badly_signed_webhook_is_refused_and_changes_nothing(client, ziggy_hooks,
                                                               django_capture_on_commit_callbacks):
    member = ziggy_hooks.member("04A2")

    response = _post(client, django_capture_on_commit_callbacks, ziggy_hooks, "access.checkin", _check_in(member),
                     secret="not-the-secret")

    assert response.status_code == 401
    assert not InboundEvent.objects.exists() and not AccessSession.objects.exists()
