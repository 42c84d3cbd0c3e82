"""Members both ways with Dynamics 365 (client credentials, Web API contacts, a field mapping):
a CRM configured through the API, pulled and pushed, echoes of our own writes recognised,
conflicts resolved by the newer change and recorded, a refused token fetched again, a
retryable failure retried and a permanent one recorded on the member."""
from __future__ import annotations

import time
from datetime import date

import pytest

from integrations.secrets.services import secret_store
from iot.models import Member
from sync.models import SyncConflict, SyncLogEntry, SyncRun

pytestmark = pytest.mark.django_db
BASE = "/api/v1/sync/crm/configs"


@pytest.fixture
def crm(api, tenant, dynamics_sandbox):
    """An active Dynamics 365 config created, validated and activated through the API."""
    body = {"display_name": "Förbundets CRM", "provider": "dynamics365", "environment_url": dynamics_sandbox.url,
            "directory_tenant_id": dynamics_sandbox.directory_tenant_id, "client_id": dynamics_sandbox.client_id,
            "client_secret_ref": secret_store(tenant=tenant, name="crm", value=dynamics_sandbox.client_secret),
            "sync_direction": "bidirectional"}
    created = api.post(f"{BASE}/", body, format="json")
    assert created.status_code == 201, created.json()
    config = created.json()
    assert config["credential_refs_set"] == ["client_secret_ref"] and "client_secret_ref" not in config
    validated = api.post(f"{BASE}/{config['id']}/validate/").json()
    assert validated["passed"] is True, validated
    assert api.post(f"{BASE}/{config['id']}/activate/").status_code == 200
    return config


def _sync(api, capture) -> SyncRun:
    with capture(execute=True):
        answer = api.post("/api/v1/sync/members/sync/", {}, format="json")
    assert answer.status_code == 202, answer.json()
    return SyncRun.objects.get(pk=answer.json()["id"])


def _member(tenant, first: str, **fields) -> Member:
    values = {"last_name": "Svensson", "email": f"{first.lower()}@example.org", "phone": "+46701234567",
              "membership_type": "senior", "membership_valid_until": date(2026, 12, 31)}
    return Member.objects.create(tenant=tenant, first_name=first, **(values | fields))


def _patches(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "PATCH")


def test_members_flow_both_ways_and_our_own_writes_are_not_applied_twice(
        api, tenant, crm, dynamics_sandbox, django_capture_on_commit_callbacks):
    anna, bo = _member(tenant, "Anna"), _member(tenant, "Bo")
    karin = dynamics_sandbox.add_contact(firstname="Karin", lastname="Lind", emailaddress1="karin@example.org",
                                         mobilephone="+46707654321", hub_membershiptype="junior",
                                         hub_membershipvaliduntil="2027-06-30")

    first = _sync(api, django_capture_on_commit_callbacks)

    assert (first.state, first.read_count, first.created_count, first.failed_count) == ("succeeded", 3, 3, 0)
    pulled = Member.objects.get(external_id=karin["contactid"])
    assert (pulled.first_name, pulled.email, pulled.membership_valid_until) == ("Karin", "karin@example.org",
                                                                                date(2027, 6, 30))
    by_key = {row.get("hub_memberid"): row for row in dynamics_sandbox.contacts.values()}
    assert (by_key[str(anna.pk)]["firstname"], by_key[str(bo.pk)]["hub_membershipvaliduntil"]) == (
        "Anna", "2026-12-31")
    assert dynamics_sandbox.creations == 2 and dynamics_sandbox.violations == []

    second = _sync(api, django_capture_on_commit_callbacks)

    # Our two upserts come back as changed contacts: recognised by their values, nothing applied or sent
    assert (second.state, second.created_count, second.updated_count, second.skipped_count) == (
        "succeeded", 0, 0, 3)
    assert _patches(dynamics_sandbox) == 2

    dynamics_sandbox.edit_contact(karin["contactid"], mobilephone="+46700000001")
    anna.email = "anna.s@example.org"
    anna.save()

    third = _sync(api, django_capture_on_commit_callbacks)

    assert (third.created_count, third.updated_count) == (0, 2)
    assert Member.objects.get(pk=pulled.pk).phone == "+46700000001"
    assert by_key[str(anna.pk)]["contactid"] and dynamics_sandbox.contacts[
        by_key[str(anna.pk)]["contactid"]]["emailaddress1"] == "anna.s@example.org"
    assert _patches(dynamics_sandbox) == 3


def test_a_record_changed_on_both_sides_takes_the_newer_change_and_records_the_conflict(
        api, tenant, crm, dynamics_sandbox, django_capture_on_commit_callbacks):
    anna, bo = _member(tenant, "Anna"), _member(tenant, "Bo")
    _sync(api, django_capture_on_commit_callbacks)
    contact = {row["hub_memberid"]: row["contactid"] for row in dynamics_sandbox.contacts.values()}
    # Anna: the hub changed first, the CRM later -> the CRM wins
    Member.objects.filter(pk=anna.pk).update(phone="+46701111111")
    anna.refresh_from_db()
    anna.save()  # updated_at moves to now
    time.sleep(1.1)  # modifiedon is compared to the second
    dynamics_sandbox.edit_contact(contact[str(anna.pk)], mobilephone="+46702222222")
    # Bo: the CRM changed first, the hub later -> the hub wins
    dynamics_sandbox.edit_contact(contact[str(bo.pk)], lastname="Berg")
    time.sleep(1.1)
    bo.last_name = "Bergström"
    bo.save()

    run = _sync(api, django_capture_on_commit_callbacks)

    conflicts = {c.record_id: c for c in SyncConflict.objects.filter(run=run)}
    assert (conflicts[str(anna.pk)].winner, conflicts[str(bo.pk)].winner) == ("provider", "hub")
    assert conflicts[str(anna.pk)].remote_values["phone"] == "+46702222222"
    assert conflicts[str(anna.pk)].hub_values["phone"] == "+46701111111"
    assert Member.objects.get(pk=anna.pk).phone == "+46702222222"
    assert dynamics_sandbox.contacts[contact[str(bo.pk)]]["lastname"] == "Bergström"
    detail = api.get(f"/api/v1/sync/runs/{run.pk}/").json()
    assert sorted(c["winner"] for c in detail["conflicts"]) == ["hub", "provider"]


def test_a_refused_token_is_fetched_again_once(api, tenant, crm, dynamics_sandbox,
                                               django_capture_on_commit_callbacks):
    _member(tenant, "Anna")
    _sync(api, django_capture_on_commit_callbacks)
    issued = dynamics_sandbox.tokens_issued
    dynamics_sandbox.expire_tokens()  # the cached token still looks valid to the hub
    _member(tenant, "Bo")

    run = _sync(api, django_capture_on_commit_callbacks)

    assert (run.state, run.created_count) == ("succeeded", 1)
    assert dynamics_sandbox.tokens_issued == issued + 1
    assert [r.status for r in dynamics_sandbox.requests if r.path.startswith("/api")].count(401) == 1


def test_refresh_oauth_token_fetches_a_client_credentials_token(api, crm, dynamics_sandbox):
    answer = api.post("/api/v1/sync/oauth/refresh/", {"integration_type": "crm/dynamics365"}, format="json")

    assert answer.status_code == 200, answer.json()
    assert answer.json()["grant"] == "client_credentials" and answer.json()["expires_at"]
    assert "access_token" not in str(answer.json())


def test_a_retryable_failure_is_retried_and_a_refusal_is_recorded_on_the_member(
        api, tenant, crm, dynamics_sandbox, django_capture_on_commit_callbacks):
    anna = _member(tenant, "Anna")
    dynamics_sandbox.fail_next(1, status=503, headers={})

    first = _sync(api, django_capture_on_commit_callbacks)

    assert (first.state, first.created_count) == ("succeeded", 1)
    contact_id = SyncLogEntry.objects.get(record_type="member", record_id=str(anna.pk)).remote_id
    del dynamics_sandbox.contacts[contact_id]  # deleted in the CRM meanwhile
    Member.objects.filter(pk=anna.pk).update(phone="+46709999999")

    second = _sync(api, django_capture_on_commit_callbacks)

    assert (second.state, second.failed_count) == ("partially_failed", 1)
    entry = SyncLogEntry.objects.get(record_type="member", record_id=str(anna.pk))
    assert "Does Not Exist" in entry.last_error
    assert second.errors.get().code == "http_404"
