"""Sessions against Ziggy itself: consumption recorded there (the hub's copy comes by webhook),
the session read through from Ziggy, and long-open sessions reconciled when a check-out
webhook was lost."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from iot.models import AccessSession
from iot.services import telemetry_ingest
from iot.services.reconcile import sessions_reconcile
from tests.iot.conftest import now, scan_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(court_world, ziggy_sandbox) -> AccessSession:
    court_world.member("04A2B3C4")
    telemetry_ingest(topic="alpha/rfid/reader-7/scan", payload=scan_payload("04A2B3C4", "m-1"), received_at=now())
    return AccessSession.objects.get()


def test_consumption_is_recorded_at_ziggy_and_read_back_through_the_session(api, session, ziggy_sandbox):
    recorded = api.post(f"/api/v1/iot/sessions/{session.pk}/consumption/",
                        {"item_id": "sku-1042", "item_name": "Sports drink", "quantity": 2, "unit_price": "32.50"},
                        format="json", HTTP_IDEMPOTENCY_KEY="bar-1")
    replayed = api.post(f"/api/v1/iot/sessions/{session.pk}/consumption/",
                        {"item_id": "sku-1042", "item_name": "Sports drink", "quantity": 2, "unit_price": "32.50"},
                        format="json", HTTP_IDEMPOTENCY_KEY="bar-1")
    at_ziggy = api.get(f"/api/v1/iot/sessions/{session.pk}/ziggy/").json()

    assert (recorded.status_code, recorded.json()["total_price"]) == (201, "65.00")
    assert replayed.json() == recorded.json()
    assert len(ziggy_sandbox.consumption[session.external_session_id]) == 1
    assert (at_ziggy["session"]["status"], at_ziggy["session"]["consumption_total"]) == ("active", "65.00")
    assert [item["item_name"] for item in at_ziggy["consumption"]] == ["Sports drink"]
    assert not session.consumptions.exists()  # the hub's copy arrives with Ziggy's webhook


@pytest.mark.parametrize(("body", "field"), [
    ({"item_name": "Drink", "quantity": 1, "unit_price": "1.00"}, "item_id"),
    ({"item_id": "a b", "item_name": "Drink", "quantity": 1, "unit_price": "1.00"}, "item_id"),
    ({"item_id": "sku", "item_name": "Drink", "quantity": 0, "unit_price": "1.00"}, "quantity"),
    ({"item_id": "sku", "item_name": "Drink", "quantity": 1, "unit_price": "-1"}, "unit_price"),
    ({"item_id": "sku", "item_name": "Drink", "quantity": 1, "unit_price": "1.00", "tip": 5}, "tip"),
])
def test_bad_consumption_input_is_a_400_and_nothing_reaches_ziggy(api, session, ziggy_sandbox, body, field):
    calls = ziggy_sandbox.request_count

    response = api.post(f"/api/v1/iot/sessions/{session.pk}/consumption/", body, format="json")

    assert (response.status_code, field in response.json()["errors"]) == (400, True)
    assert ziggy_sandbox.request_count == calls


def test_consumption_on_a_closed_session_or_with_ziggy_down_is_refused(api, session, ziggy_sandbox):
    body = {"item_id": "sku", "item_name": "Drink", "quantity": 1, "unit_price": "1.00"}
    ziggy_sandbox.go_down()
    down = api.post(f"/api/v1/iot/sessions/{session.pk}/consumption/", body, format="json")
    AccessSession.objects.filter(pk=session.pk).update(status="closed")
    closed = api.post(f"/api/v1/iot/sessions/{session.pk}/consumption/", body, format="json")

    assert (down.status_code, down.json()["retryable"]) == (503, True)
    assert (closed.status_code, closed.json()["code"]) == (409, "session_closed")


def test_a_long_open_session_ziggy_has_closed_is_closed_by_the_reconcile_sweep(session, ziggy_sandbox, settings):
    settings.IOT_SESSION_RECONCILE_AFTER_MINUTES = 30
    still_open = AccessSession.objects.create(
        tenant=session.tenant, member=session.member.__class__.objects.create(tenant=session.tenant,
                                                                              first_name="Bia", credits=1),
        court=session.court, external_session_id="ses_still_open", checked_in_at=timezone.now())
    closed_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)
    ziggy_sandbox.sessions[session.external_session_id].update(status="closed", consumption_total=12.5,
                                                              checked_out_at=closed_at.isoformat())
    AccessSession.objects.filter(pk=session.pk).update(checked_in_at=timezone.now() - timedelta(hours=2))

    assert sessions_reconcile() == {"checked": 1, "closed": 1}

    session.refresh_from_db()
    still_open.refresh_from_db()
    assert (session.status, session.consumption_total) == ("closed", Decimal("12.50"))
    assert session.checked_out_at == closed_at
    assert still_open.status == "active"
