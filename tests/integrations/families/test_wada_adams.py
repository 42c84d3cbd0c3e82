"""WADA ADAMS end to end: input rules, signed validation against a provider implementing
docs/provider-interfaces/wada-adams.openapi.json, lifecycle, usage and the core operations."""

import json

import pytest
from openapi_spec_validator import validate

from adapters.errors import ProviderRejected
from adapters.providers import adams
from integrations.models import WadaAdamsIntegration
from tests.sandboxes.provider_interfaces import DOCS_DIR

BASE = "/api/v1/integrations/wada-adams"


def _secret(api, name, value) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _body(api, sandbox, **overrides) -> dict:
    return {
        "display_name": "ADAMS",
        "provider": "adams",
        "api_base_url": sandbox.url,
        "api_key_ref": _secret(api, "adams-key", sandbox.api_key),
        "signing_key_ref": _secret(api, "adams-signing", sandbox.signing_key),
        "organization_code": "swe-nado",
        "sport_codes": ["bad", "BAD", "tt"],
        "athlete_pool_ids": ["RTP-2026", "TP-2026"],
        "whereabouts_sync": True,
        "tue_management": True,
    } | overrides


def _create(api, sandbox, **overrides) -> dict:
    response = api.post(f"{BASE}/", _body(api, sandbox, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def adams_sandbox(interface_sandbox):
    return interface_sandbox("wada-adams")


@pytest.mark.django_db
def test_create_keeps_a_draft_normalises_codes_and_never_returns_refs(api, adams_sandbox):
    created = _create(api, adams_sandbox)

    assert created["status"] == "draft"
    assert created["organization_code"] == "SWE-NADO"
    assert created["sport_codes"] == ["BAD", "TT"]
    assert created["api_base_url"] == adams_sandbox.url
    assert created["credential_refs_set"] == ["api_key_ref", "signing_key_ref"]
    assert "api_key_ref" not in created and "signing_key_ref" not in created


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field",
    [
        ({"api_base_url": "http://adams.example.org"}, "api_base_url"),
        ({"api_base_url": "ftp://adams.example.org"}, "api_base_url"),
        ({"api_base_url": "https://user:pw@adams.example.org"}, "api_base_url"),
        ({"api_base_url": "not a url"}, "api_base_url"),
        ({"api_key_ref": "adams-live-key-inline-0123456789"}, "api_key_ref"),
        ({"signing_key_ref": "local://never-stored"}, "signing_key_ref"),
        ({"sport_codes": "BAD"}, "sport_codes"),
        ({"athlete_pool_ids": ["RTP", ""]}, "athlete_pool_ids"),
        ({"capabilities": {"teleport": True}}, "capabilities"),
        ({"provider": "usada"}, "provider"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api, adams_sandbox, override, field
):
    response = api.post(f"{BASE}/", _body(api, adams_sandbox, **override), format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not WadaAdamsIntegration.objects.exists()


@pytest.mark.django_db
def test_plain_http_to_localhost_is_refused_outside_development(api, adams_sandbox, settings):
    settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = False
    settings.DEBUG = False

    response = api.post(f"{BASE}/", _body(api, adams_sandbox), format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["api_base_url"] == [
        "must use https (plain http is allowed only to localhost in development)"
    ]


@pytest.mark.django_db
def test_validation_is_a_signed_status_call_then_the_lifecycle_runs_and_usage_counts(
    api, adams_sandbox
):
    created = _create(api, adams_sandbox)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()
    steps = [
        api.post(f"{BASE}/{created['id']}/{action}/").status_code
        for action in ("activate", "pause", "resume", "decommission")
    ]
    illegal = api.post(f"{BASE}/{created['id']}/resume/")
    usage = api.get(f"{BASE}/{created['id']}/usage/").json()

    assert run["passed"] is True
    assert run["message"] == "authenticated with WADA ADAMS as SWE-NADO (sandbox)"
    [request] = adams_sandbox.requests
    assert (request.method, request.path, request.status) == ("GET", "/v1/status", 200)
    assert request.headers["authorization"] == f"Bearer {adams_sandbox.api_key}"
    assert request.headers["x-hub-signature"].startswith("sha256=")
    assert steps == [200, 200, 200, 200]
    assert illegal.status_code == 409 and illegal.json()["code"] == "invalid_transition"
    assert usage["totals"]["requests"] == 1 and usage["totals"]["errors"] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "secret, value, reason",
    [
        ("adams-key", "wrong-api-key-0123456789", "The API key is not valid."),
        ("adams-signing", "wrong-signing-key-0123456789", "X-Hub-Signature does not verify."),
    ],
)
def test_validation_fails_with_the_providers_reason_for_a_wrong_credential(
    api, adams_sandbox, secret, value, reason
):
    created = _create(api, adams_sandbox)
    _secret(api, secret, value)  # a new version behind the same ref

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith("WADA ADAMS answered: adams answered 401 to GET /v1/status")
    assert reason in run["message"]
    assert value not in run["message"]
    assert api.post(f"{BASE}/{created['id']}/activate/").status_code == 409


@pytest.mark.django_db
def test_validation_fails_when_the_key_belongs_to_another_organisation(api, adams_sandbox):
    created = _create(api, adams_sandbox, organization_code="NOR-NADO")

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == (
        "WADA ADAMS answered: the credentials belong to anti-doping organisation "
        "'SWE-NADO', not the configured 'NOR-NADO'"
    )


@pytest.mark.django_db
def test_validation_in_sandbox_mode_refuses_a_production_endpoint(api, interface_sandbox):
    production = interface_sandbox("wada-adams", environment="production")
    created = _create(api, production)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert (
        run["message"]
        == "WADA ADAMS answered: sandbox mode is on but the endpoint is a production one"
    )


@pytest.mark.django_db
def test_validation_fails_when_the_provider_is_down_and_both_attempts_count(api, adams_sandbox):
    created = _create(api, adams_sandbox)
    adams_sandbox.go_down()

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith(
        "WADA ADAMS answered: adams: GET /v1/status failed (ConnectError)"
    )
    assert api.get(f"{BASE}/{created['id']}/usage/").json()["totals"]["errors"] == 2


@pytest.mark.django_db
def test_validation_without_a_signing_key_fails_before_any_call(api, adams_sandbox):
    created = _create(api, adams_sandbox, signing_key_ref="")

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run == run | {"passed": False, "message": "missing credential refs: signing_key_ref"}
    assert adams_sandbox.requests == []


def _config(sandbox) -> adams.Config:
    return adams.Config(
        api_base_url=sandbox.url,
        api_key=sandbox.api_key,
        signing_key=sandbox.signing_key,
        organization_code="SWE-NADO",
    )


def test_core_operations_speak_the_published_interface(adams_sandbox):
    config = _config(adams_sandbox)

    filing = adams.submit_whereabouts(
        config,
        athlete_id="A-17",
        quarter="2026-Q3",
        overnight_address={
            "line1": "Storgatan 1",
            "postal_code": "11122",
            "city": "Stockholm",
            "country_code": "SE",
        },
        daily_slots=[{"date": "2026-07-01", "start_time": "06:00", "location": "Home"}],
    )
    tues = adams.list_tues(config, athlete_pool_id="RTP-2026", status="approved")
    results = adams.list_test_results(
        config, athlete_pool_id="RTP-2026", since="2026-01-01T00:00:00Z"
    )

    assert filing["status"] == "received" and filing["id"].startswith("sbx_")
    assert [tue["tue_id"] for tue in tues] == ["TUE-1"]
    assert [result["result"] for result in results] == ["negative"]
    assert adams_sandbox.received["/v1/whereabouts"][0]["quarter"] == "2026-Q3"
    assert all(
        request.headers["x-hub-signature"].startswith("sha256=")
        for request in adams_sandbox.requests
    )


def test_a_filing_the_interface_refuses_is_a_permanent_error(adams_sandbox):
    with pytest.raises(ProviderRejected) as refused:
        adams.submit_whereabouts(
            _config(adams_sandbox),
            athlete_id="A-17",
            quarter="2026-Q5",
            overnight_address={"line1": "x", "postal_code": "1", "city": "y", "country_code": "SE"},
            daily_slots=[],
        )

    assert refused.value.status_code == 400 and refused.value.retryable is False
    assert len(adams_sandbox.take_violations()) == 2  # the quarter pattern and the empty slot list


def test_the_published_interface_is_a_valid_openapi_3_1_document():
    document = json.loads((DOCS_DIR / "wada-adams.openapi.json").read_text())

    validate(document)  # openapi-spec-validator raises on any departure from OAS 3.1

    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/v1/status",
        "/v1/whereabouts",
        "/v1/tues",
        "/v1/test-results",
    }
