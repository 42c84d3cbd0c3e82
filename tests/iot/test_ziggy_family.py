"""Ziggy as an integration on the shared base, at /api/v1/iot/ziggy/configs/: refs only, strict
input, validation against the sandbox (passed and failed), lifecycle and usage."""
from __future__ import annotations

import pytest

from iot.models import ZiggyIntegration

pytestmark = pytest.mark.django_db
BASE = "/api/v1/iot/ziggy/configs"


def _secret(api, name: str, value: str) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _body(api, sandbox, **overrides) -> dict:
    return {"display_name": "Ziggy (club)", "provider": "ziggy", "client_id": sandbox.client_id,
            "api_base_url": "https://club-alpha.ziggy.example", "timeout_seconds": 5,
            "api_key_ref": _secret(api, "ziggy-key", sandbox.api_key),
            "webhook_signing_key_ref": _secret(api, "ziggy-signing", "signing-secret"),
            "capabilities": {"check_in": True, "consumption": True}} | overrides


def _create(api, sandbox, **overrides) -> dict:
    response = api.post(f"{BASE}/", _body(api, sandbox, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_config_is_created_in_draft_and_never_returns_its_refs(api, ziggy_sandbox):
    created = _create(api, ziggy_sandbox)

    assert (created["status"], created["family"], created["provider"]) == ("draft", "access-control", "ziggy")
    assert created["credential_refs_set"] == ["api_key_ref", "webhook_signing_key_ref"]
    assert "api_key_ref" not in created and "webhook_signing_key_ref" not in created
    assert created["webhook_url"].endswith(f"/webhooks/ziggy/{created['id']}/")
    assert api.get(f"{BASE}/").json()["results"][0]["id"] == created["id"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"api_key_ref": "zg_live_pasted_secret"}, "api_key_ref"),
    ({"client_id": "club alpha!"}, "client_id"),
    ({"api_base_url": "http://ziggy.example"}, "api_base_url"),
    ({"api_base_url": "https://user:pw@ziggy.example"}, "api_base_url"),
    ({"timeout_seconds": 0}, "timeout_seconds"),
    ({"timeout_seconds": 120}, "timeout_seconds"),
    ({"capabilities": {"open_doors": True}}, "capabilities"),
    ({"provider": "stripe"}, "provider"),
    ({"door_code": "1234"}, "door_code"),
])
def test_bad_input_is_refused_with_field_errors_and_nothing_created(api, ziggy_sandbox, overrides, field):
    response = api.post(f"{BASE}/", _body(api, ziggy_sandbox, **overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ZiggyIntegration.objects.exists()


def test_validation_passes_against_ziggy_then_the_lifecycle_runs_and_usage_counts(api, ziggy_sandbox):
    config = _create(api, ziggy_sandbox)
    url = f"{BASE}/{config['id']}"

    validated = api.post(f"{url}/validate/").json()
    steps = [api.post(f"{url}/{action}/", {}, format="json") for action in ("activate", "pause", "resume")]
    usage = api.get(f"{url}/usage/").json()
    decommissioned = api.post(f"{url}/decommission/", {}, format="json")
    illegal = api.post(f"{url}/resume/", {}, format="json")

    [request] = ziggy_sandbox.requests
    assert (validated["passed"], validated["message"]) == (True, "authenticated with Ziggy access control")
    assert (request.path, request.query_string) == ("/api/v1/access/sessions/active", "limit=1")
    assert request.headers["x-client-id"] == ziggy_sandbox.client_id
    assert [step.json()["status"] for step in steps] == ["active", "paused", "active"]
    assert usage["totals"]["requests"] == 1
    assert decommissioned.json()["status"] == "decommissioned"
    assert (illegal.status_code, illegal["Content-Type"]) == (409, "application/problem+json")
    assert len(api.get(f"{url}/transitions/").json()["results"]) == 4


def test_validation_fails_with_ziggys_reason_for_a_wrong_key(api, ziggy_sandbox):
    config = _create(api, ziggy_sandbox, api_key_ref=_secret(api, "wrong-key", "zg_live_wrong"))

    validated = api.post(f"{BASE}/{config['id']}/validate/").json()
    activate = api.post(f"{BASE}/{config['id']}/activate/", {}, format="json")

    assert validated["passed"] is False
    assert "401" in validated["message"] and "Invalid API key or client id" in validated["message"]
    assert activate.status_code == 409


def test_validation_fails_when_ziggy_is_down(api, ziggy_sandbox):
    config = _create(api, ziggy_sandbox)
    ziggy_sandbox.go_down()

    validated = api.post(f"{BASE}/{config['id']}/validate/").json()

    assert validated["passed"] is False and "Ziggy answered" in validated["message"]


def test_without_a_base_url_validation_says_what_is_missing(api, ziggy_sandbox, monkeypatch):
    monkeypatch.delenv("PROVIDER_ZIGGY_BASE_URL")
    config = _create(api, ziggy_sandbox, api_base_url="")

    validated = api.post(f"{BASE}/{config['id']}/validate/").json()

    assert validated["passed"] is False and "api_base_url is required" in validated["message"]


def test_another_tenant_cannot_see_or_act_on_the_config(api, other_api, ziggy_sandbox):
    config = _create(api, ziggy_sandbox)

    assert other_api.get(f"{BASE}/{config['id']}/").status_code == 404
    assert other_api.post(f"{BASE}/{config['id']}/validate/").status_code == 404
    assert ziggy_sandbox.request_count == 0
