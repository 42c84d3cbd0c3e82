"""The court registry and operations API under /api/v1/iot/: tenant-scoped, strict input,
problem+json errors, never a 500."""
from __future__ import annotations

import pytest

from iot.models import AccessSession, Court, Device, Member
from iot.services import telemetry_ingest
from tests.iot.conftest import now, scan_payload

pytestmark = pytest.mark.django_db
MEMBERS = "/api/v1/iot/members/"


def _member(api, **fields):
    body = {"first_name": "Ana", "last_name": "Souza", "rfid_card_id": "04a2b3c4", "credits": 5,
            "external_id": "crm-1", "phone": "+46 70 123 45 67", "membership_valid_until": "2027-01-31"} | fields
    return api.post(MEMBERS, body, format="json")


def test_members_are_created_read_updated_and_deleted(api):
    created = _member(api)
    member_id = created.json()["id"]

    updated = api.patch(f"{MEMBERS}{member_id}/", {"credits": 9, "is_active": False}, format="json")
    listed = api.get(MEMBERS, {"search": "souza"})
    deleted = api.delete(f"{MEMBERS}{member_id}/")

    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("rfid_card_id", "phone", "credits", "membership_valid_until")} == {
        "rfid_card_id": "04A2B3C4", "phone": "+46701234567", "credits": 5, "membership_valid_until": "2027-01-31"}
    assert (updated.json()["credits"], updated.json()["is_active"]) == (9, False)
    assert [m["id"] for m in listed.json()["results"]] == [member_id]
    assert deleted.status_code == 204 and not Member.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"credits": -1}, "credits"),
    ({"credits": "lots"}, "credits"),
    ({"phone": "0701234567"}, "phone"),
    ({"email": "not-an-email"}, "email"),
    ({"rfid_card_id": "04 A2"}, "rfid_card_id"),
    ({"first_name": "   "}, "first_name"),
    ({"membership_valid_until": "31/01/2027"}, "membership_valid_until"),
    ({"external_id": "a" * 101}, "external_id"),
    ({"tenant": "someone-else"}, "tenant"),
    ({"nickname": "Aninha"}, "nickname"),
])
def test_bad_member_input_is_a_400_naming_the_field_and_creates_nothing(api, body, field):
    response = _member(api, **body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not Member.objects.exists()


def test_a_card_or_crm_id_already_in_use_is_a_409(api):
    _member(api)

    card_clash = _member(api, external_id="crm-2")
    crm_clash = _member(api, rfid_card_id="FFFF")

    assert (card_clash.status_code, list(card_clash.json()["errors"])) == (409, ["rfid_card_id"])
    assert (crm_clash.status_code, list(crm_clash.json()["errors"])) == (409, ["external_id"])


def test_another_tenants_members_devices_and_sessions_are_not_found(api, other_api, court_world, ziggy_sandbox):
    member = court_world.member("04A2B3C4")
    telemetry_ingest(topic="alpha/rfid/reader-7/scan", payload=scan_payload("04A2B3C4", "m-1"), received_at=now())
    session = AccessSession.objects.get()

    for path in (f"{MEMBERS}{member.pk}/", f"/api/v1/iot/devices/{court_world.reader.pk}/",
                 f"/api/v1/iot/courts/{court_world.court.pk}/", f"/api/v1/iot/sessions/{session.pk}/"):
        assert other_api.get(path).status_code == 404
        assert api.get(path).status_code == 200
    assert other_api.get(MEMBERS).json()["results"] == []
    assert other_api.patch(f"{MEMBERS}{member.pk}/", {"credits": 0}, format="json").status_code == 404
    assert other_api.post(f"/api/v1/iot/sessions/{session.pk}/checkout/", {}, format="json").status_code == 404


def test_courts_and_devices_are_registered_with_their_topic_ids(api, other_api):
    court = api.post("/api/v1/iot/courts/", {"code": "padel-1", "name": "Padel 1", "ziggy_court_id": "z-1"},
                     format="json").json()
    other_court = other_api.post("/api/v1/iot/courts/", {"code": "padel-1", "name": "Theirs"}, format="json").json()

    reader = api.post("/api/v1/iot/devices/", {"kind": "rfid_reader", "external_id": "reader-1",
                                               "court": court["id"], "response_timeout_ms": 2500}, format="json")
    foreign_court = api.post("/api/v1/iot/devices/", {"kind": "tablet", "external_id": "tab-1",
                                                      "court": other_court["id"]}, format="json")
    bad_id = api.post("/api/v1/iot/devices/", {"kind": "tablet", "external_id": "tab/1"}, format="json")
    bad_kind = api.post("/api/v1/iot/devices/", {"kind": "toaster", "external_id": "t-1"}, format="json")
    status_written = api.post("/api/v1/iot/devices/", {"kind": "tablet", "external_id": "t-2", "status": "online"},
                              format="json")

    assert reader.status_code == 201
    assert (reader.json()["court_code"], reader.json()["status"], reader.json()["last_seen_at"]) == (
        "padel-1", "offline", None)
    assert (foreign_court.status_code, list(foreign_court.json()["errors"])) == (400, ["court"])
    assert (bad_id.status_code, list(bad_id.json()["errors"])) == (400, ["external_id"])
    assert (bad_kind.status_code, list(bad_kind.json()["errors"])) == (400, ["kind"])
    assert (status_written.status_code, list(status_written.json()["errors"])) == (400, ["status"])
    assert api.get("/api/v1/iot/devices/", {"kind": "rfid_reader"}).json()["results"][0]["external_id"] == "reader-1"
    assert api.get("/api/v1/iot/devices/", {"kind": "toaster"}).status_code == 400
    assert Device.objects.count() == 1 and Court.objects.count() == 2


def test_a_court_with_sessions_cannot_be_deleted(api, court_world, ziggy_sandbox):
    court_world.member("04A2B3C4")
    telemetry_ingest(topic="alpha/rfid/reader-7/scan", payload=scan_payload("04A2B3C4", "m-1"), received_at=now())

    response = api.delete(f"/api/v1/iot/courts/{court_world.court.pk}/")

    assert response.status_code == 409 and Court.objects.filter(pk=court_world.court.pk).exists()


def test_sessions_are_listed_with_filters_shown_with_consumption_and_checked_out(api, court_world, ziggy_sandbox):
    court_world.member("04A2B3C4")
    telemetry_ingest(topic="alpha/rfid/reader-7/scan", payload=scan_payload("04A2B3C4", "m-1"), received_at=now())
    session = AccessSession.objects.get()

    active = api.get("/api/v1/iot/sessions/", {"status": "active", "court": str(court_world.court.pk)}).json()
    detail = api.get(f"/api/v1/iot/sessions/{session.pk}/").json()
    checked_out = api.post(f"/api/v1/iot/sessions/{session.pk}/checkout/", {}, format="json")
    again = api.post(f"/api/v1/iot/sessions/{session.pk}/checkout/", {}, format="json")

    assert [s["id"] for s in active["results"]] == [str(session.pk)]
    assert (detail["member_name"], detail["court_code"], detail["consumption"]) == ("Ana Souza", "court-7", [])
    assert (checked_out.status_code, checked_out.json()["status"]) == (200, "closed")
    assert (again.status_code, again.json()["code"]) == (409, "session_closed")
    assert ziggy_sandbox.sessions[session.external_session_id]["status"] == "closed"
    assert api.get("/api/v1/iot/sessions/", {"status": "maybe"}).status_code == 400
    assert api.get("/api/v1/iot/sessions/", {"checked_in_after": "yesterday"}).status_code == 400


def test_checking_out_while_ziggy_is_down_is_a_503_and_keeps_the_session_open(api, court_world, ziggy_sandbox):
    court_world.member("04A2B3C4")
    telemetry_ingest(topic="alpha/rfid/reader-7/scan", payload=scan_payload("04A2B3C4", "m-1"), received_at=now())
    session = AccessSession.objects.get()
    ziggy_sandbox.go_down()

    response = api.post(f"/api/v1/iot/sessions/{session.pk}/checkout/", {}, format="json")

    session.refresh_from_db()
    assert (response.status_code, response.json()["code"]) == (503, "access_control_unavailable")
    assert session.status == "active"


def test_the_iot_scope_is_required(api_for, tenant):
    reader = api_for(tenant, scopes=["iot:read"])
    outsider = api_for(tenant, scopes=["integrations:*"])

    assert reader.get(MEMBERS).status_code == 200
    assert reader.post(MEMBERS, {"first_name": "Ana"}, format="json").status_code == 403
    assert outsider.get(MEMBERS).status_code == 403


def test_non_json_and_non_object_bodies_are_400s(api):
    assert api.post(MEMBERS, "[1, 2]", content_type="application/json").status_code == 400
    assert api.post(MEMBERS, "first_name=Ana", content_type="application/x-www-form-urlencoded").status_code == 415
    assert api.get("/api/v1/iot/clips/", {"page_size": 0}).status_code == 400


def test_member_creation_honours_the_idempotency_key(api):
    first = api.post(MEMBERS, {"first_name": "Ana"}, format="json", HTTP_IDEMPOTENCY_KEY="member-1")
    replay = api.post(MEMBERS, {"first_name": "Ana"}, format="json", HTTP_IDEMPOTENCY_KEY="member-1")
    other_body = api.post(MEMBERS, {"first_name": "Bia"}, format="json", HTTP_IDEMPOTENCY_KEY="member-1")

    assert (first.status_code, replay.status_code, other_body.status_code) == (201, 201, 422)
    assert first.json()["id"] == replay.json()["id"] and Member.objects.count() == 1
