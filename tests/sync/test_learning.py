"""Course enrolments to Cornerstone and Consio: by API, and as a CSV file in the provider's import
layout when the API is down or the organisation has none. The file is downloaded from the run
and read back with the csv module, row for row against the hub's enrolments."""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from integrations.secrets.services import secret_store
from iot.models import Member
from sync.models import CourseEnrollment, SyncLogEntry, SyncRun

pytestmark = pytest.mark.django_db
BASE = "/api/v1/sync/lms/configs"


def _config(api, body: dict) -> dict:
    created = api.post(f"{BASE}/", {"display_name": "Utbildning", **body}, format="json")
    assert created.status_code == 201, created.json()
    config = created.json()
    validated = api.post(f"{BASE}/{config['id']}/validate/").json()
    assert validated["passed"] is True, validated
    assert api.post(f"{BASE}/{config['id']}/activate/").status_code == 200
    return config


def _enroll(tenant, first: str, course: str, **fields) -> CourseEnrollment:
    member = Member.objects.create(tenant=tenant, first_name=first, last_name="Ek",
                                   email=f"{first.lower()}@example.org")
    values = {"course_title": course.title(), "enrolled_on": date(2026, 4, 1)}
    return CourseEnrollment.objects.create(tenant=tenant, member=member, course_code=course, **(values | fields))


def _sync(api, capture, integration_type: str, **body) -> SyncRun:
    with capture(execute=True):
        answer = api.post("/api/v1/sync/enrollments/sync/", {"integration_type": integration_type, **body},
                          format="json")
    assert answer.status_code == 202, answer.json()
    return SyncRun.objects.get(pk=answer.json()["id"])


def _download(api, run: SyncRun) -> tuple[str, str]:
    answer = api.get(f"/api/v1/sync/runs/{run.pk}/export.csv")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    return answer["Content-Disposition"], answer.content.decode("utf-8")


@pytest.fixture
def cornerstone(api, tenant, cornerstone_sandbox):
    coach, referee = cornerstone_sandbox.add_learning_object("Coach 1"), cornerstone_sandbox.add_learning_object("Ref")
    config = _config(api, {"provider": "cornerstone", "api_base_url": cornerstone_sandbox.url,
                           "client_id": cornerstone_sandbox.client_id,
                           "client_secret_ref": secret_store(tenant=tenant, name="csod",
                                                             value=cornerstone_sandbox.client_secret),
                           "course_mapping": {"COACH-1": coach, "REF-2": referee}, "learner_id_field": "email"})
    return config, {"COACH-1": coach, "REF-2": referee}


def test_enrolments_are_assigned_in_cornerstone_once(api, tenant, cornerstone, cornerstone_sandbox,
                                                     django_capture_on_commit_callbacks):
    _, courses = cornerstone
    anna, bo = _enroll(tenant, "Anna", "COACH-1"), _enroll(tenant, "Bo", "REF-2")
    unmapped = _enroll(tenant, "Cissi", "YOGA-9")
    cornerstone_sandbox.users |= {"anna@example.org", "bo@example.org", "cissi@example.org"}

    run = _sync(api, django_capture_on_commit_callbacks, "lms/cornerstone")

    assert (run.state, run.created_count, run.failed_count) == ("partially_failed", 2, 1)
    assert cornerstone_sandbox.transcripts == {"anna@example.org": {courses["COACH-1"]: "Registered"},
                                               "bo@example.org": {courses["REF-2"]: "Registered"}}
    assert run.errors.get().record_id == str(unmapped.pk)
    assert SyncLogEntry.objects.get(record_id=str(anna.pk)).remote_id == f"anna@example.org:{courses['COACH-1']}"
    assert bo and cornerstone_sandbox.violations == []
    sent = cornerstone_sandbox.request_count

    again = _sync(api, django_capture_on_commit_callbacks, "lms/cornerstone")

    assert (again.created_count, again.skipped_count) == (0, 2)
    assert cornerstone_sandbox.request_count == sent


def test_when_the_cornerstone_api_is_down_the_run_writes_the_import_file_instead(
        api, tenant, cornerstone, cornerstone_sandbox, django_capture_on_commit_callbacks):
    _, courses = cornerstone
    rows = [_enroll(tenant, "Anna", "COACH-1"),
            _enroll(tenant, "Bo", "REF-2", status="completed", completed_on=date(2026, 5, 2))]
    cornerstone_sandbox.go_down()

    run = _sync(api, django_capture_on_commit_callbacks, "lms/cornerstone")

    assert (run.state, run.created_count, run.failed_count) == ("succeeded", 2, 0)
    assert run.export.reason.startswith("the API was unavailable")
    disposition, text = _download(api, run)
    assert disposition.startswith('attachment; filename="cornerstone-enrollments-')
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["User ID", "LO ID", "Status", "Registration Date", "Completion Date"]
    assert sorted(parsed[1:]) == sorted([[row.member.email, courses[row.course_code],
                                          {"enrolled": "Registered", "completed": "Completed"}[row.status],
                                          row.enrolled_on.strftime("%m/%d/%Y"),
                                          row.completed_on.strftime("%m/%d/%Y") if row.completed_on else ""]
                                         for row in rows])
    assert set(SyncLogEntry.objects.values_list("state", flat=True)) == {"exported"}

    cornerstone_sandbox.come_back()
    again = _sync(api, django_capture_on_commit_callbacks, "lms/cornerstone")

    assert (again.skipped_count, cornerstone_sandbox.assignments) == (2, 0)  # handed over in the file already


def test_an_organisation_without_consio_api_access_gets_the_participant_file(
        api, tenant, django_capture_on_commit_callbacks):
    created = api.post(f"{BASE}/", {"display_name": "Consio", "provider": "consio", "delivery": "csv",
                                    "course_mapping": {"LEDARE-1": "4711"}}, format="json")
    assert created.status_code == 201, created.json()
    from sync.models import LmsIntegration

    LmsIntegration.objects.filter(pk=created.json()["id"]).update(status="active")  # files need no validation
    rows = [_enroll(tenant, "Åsa", "LEDARE-1"), _enroll(tenant, "Örjan", "LEDARE-1", status="withdrawn")]

    run = _sync(api, django_capture_on_commit_callbacks, "lms/consio")

    assert (run.state, run.created_count, run.export.reason) == (
        "succeeded", 2, "the integration delivers by import file")
    _, text = _download(api, run)
    assert text.startswith("\ufeff")
    parsed = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert parsed[0] == ["Kurs-ID", "Externt ID", "E-post", "Namn", "Status", "Anmäld", "Genomförd"]
    assert sorted(parsed[1:]) == sorted([["4711", str(row.pk), row.member.email, f"{row.member.first_name} Ek",
                                          {"enrolled": "Anmäld", "withdrawn": "Avanmäld"}[row.status],
                                          "2026-04-01", ""] for row in rows])


def test_consio_participants_are_added_by_api_and_a_resumed_run_adopts_what_is_there(
        api, tenant, consio_sandbox, django_capture_on_commit_callbacks):
    consio_sandbox.courses["4711"] = []
    _config(api, {"provider": "consio", "api_base_url": consio_sandbox.url,
                  "api_key_ref": secret_store(tenant=tenant, name="consio", value=consio_sandbox.api_key),
                  "course_mapping": {"LEDARE-1": "4711"}})
    first, second = _enroll(tenant, "Åsa", "LEDARE-1"), _enroll(tenant, "Örjan", "LEDARE-1")
    # An earlier run was killed after Consio stored Åsa: her log entry is in doubt
    consio_sandbox.courses["4711"].append({"id": "p-1", "externalId": str(first.pk), "email": "åsa@example.org",
                                           "name": "Åsa Ek", "status": "enrolled", "enrolledDate": "2026-04-01"})
    integration_id = api.get(f"{BASE}/").json()["results"][0]["id"]
    SyncLogEntry.objects.create(tenant=tenant, integration_id=integration_id, record_type="enrollment",
                                record_id=str(first.pk), state="pending", pending_hash="in-doubt")

    run = _sync(api, django_capture_on_commit_callbacks, "lms/consio")

    assert (run.state, run.created_count) == ("succeeded", 2)
    assert consio_sandbox.creations == 1 and len(consio_sandbox.courses["4711"]) == 2
    assert SyncLogEntry.objects.get(record_id=str(first.pk)).remote_id == "p-1"
    assert second and consio_sandbox.violations == []


def test_cornerstone_retries_a_blip_refreshes_a_refused_token_and_records_a_refusal(
        api, tenant, cornerstone, cornerstone_sandbox, django_capture_on_commit_callbacks):
    anna, bo, stranger = (_enroll(tenant, "Anna", "COACH-1"), _enroll(tenant, "Bo", "REF-2"),
                          _enroll(tenant, "Okänd", "COACH-1"))
    cornerstone_sandbox.users |= {"anna@example.org", "bo@example.org"}  # "okänd" has no user in the portal
    _sync(api, django_capture_on_commit_callbacks, "lms/cornerstone")  # a first token, now cached
    tokens = cornerstone_sandbox.tokens_issued
    cornerstone_sandbox.expire_tokens()
    CourseEnrollment.objects.filter(pk__in=[anna.pk, bo.pk]).update(status="completed",
                                                                    completed_on=date(2026, 5, 1))
    new = _enroll(tenant, "Cissi", "REF-2")
    cornerstone_sandbox.users.add("cissi@example.org")
    cornerstone_sandbox.fail_next(1, status=503, headers={})

    run = _sync(api, django_capture_on_commit_callbacks, "lms/cornerstone")

    # The expired token: one 401, one new token, the push goes on; the 503 was retried in the call
    assert cornerstone_sandbox.tokens_issued == tokens + 1
    statuses = [r.status for r in cornerstone_sandbox.requests if "transcripts" in r.path]
    assert statuses.count(503) == 1 and statuses.count(401) == 1
    assert SyncLogEntry.objects.get(record_id=str(new.pk)).state == "synced"
    # The stranger is refused by Cornerstone itself, and that stays on the enrolment
    entry = SyncLogEntry.objects.get(record_id=str(stranger.pk))
    assert (entry.state, "was not found" in entry.last_error) == ("failed", True)
    # Anna's and Bo's completions changed records already assigned: reported, not re-sent
    assert {e.code for e in run.errors.all()} == {"http_404", "changed_after_push"}
