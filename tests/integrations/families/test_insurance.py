"""Insurance end to end: input rules, validation against an insurer implementing
docs/provider-interfaces/insurance.openapi.json (API key or OAuth token), lifecycle, usage and
the core operations."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from openapi_spec_validator import validate

from adapters.errors import ProviderRejected
from adapters.providers import hub_insurance_api as insurer
from integrations.models import InsuranceIntegration
from tests.sandboxes.provider_interfaces import DOCS_DIR

BASE = "/api/v1/integrations/insurance"


def _secret(api, name, value) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _body(api, sandbox, **overrides) -> dict:
    return {
        "display_name": "Sports Cover",
        "provider": "hub_insurance_api",
        "api_base_url": sandbox.url,
        "api_key_ref": _secret(api, "insurer-key", sandbox.api_key),
        "broker_id": "BRK-1001",
        "policy_group_ids": ["PG-JUNIORS", "PG-SENIORS", "PG-JUNIORS"],
        "coverage_types": ["accident", "liability", "accident"],
        "auto_enrollment": True,
        "claims_submission": True,
    } | overrides


def _create(api, sandbox, **overrides) -> dict:
    response = api.post(f"{BASE}/", _body(api, sandbox, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def insurer_sandbox(interface_sandbox):
    return interface_sandbox("insurance")


@pytest.mark.django_db
def test_create_keeps_a_draft_with_unique_groups_and_coverage(api, insurer_sandbox):
    created = _create(api, insurer_sandbox)

    assert created["status"] == "draft"
    assert created["policy_group_ids"] == ["PG-JUNIORS", "PG-SENIORS"]
    assert created["coverage_types"] == ["accident", "liability"]
    assert created["credential_refs_set"] == ["api_key_ref"]
    assert "api_key_ref" not in created


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field",
    [
        ({"coverage_types": ["accident", "alien_abduction"]}, "coverage_types"),
        ({"coverage_types": "accident"}, "coverage_types"),
        ({"api_base_url": "http://insurer.example.com"}, "api_base_url"),
        ({"api_key_ref": "sk_live_pasted_secret_123456"}, "api_key_ref"),
        ({"oauth_client_id": "hub-client"}, "api_key_ref"),  # an API key and OAuth at once
        ({"oauth_client_secret_ref": "plain-secret-value"}, "oauth_client_secret_ref"),
        ({"policy_group_ids": [""]}, "policy_group_ids"),
        ({"capabilities": {"claims": True, "lottery": True}}, "capabilities"),
        ({"premium": "cheap"}, "premium"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api, insurer_sandbox, override, field
):
    response = api.post(f"{BASE}/", _body(api, insurer_sandbox, **override), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not InsuranceIntegration.objects.exists()


@pytest.mark.django_db
def test_validation_passes_then_the_lifecycle_runs_and_usage_counts(api, insurer_sandbox):
    created = _create(api, insurer_sandbox)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()
    steps = [
        api.post(f"{BASE}/{created['id']}/{action}/").status_code
        for action in ("activate", "pause", "resume", "decommission")
    ]
    patch_after_end = api.patch(f"{BASE}/{created['id']}/", {"broker_id": "BRK-2"}, format="json")
    usage = api.get(f"{BASE}/{created['id']}/usage/").json()

    assert run["passed"] is True
    assert run["message"] == "authenticated with the insurer as broker BRK-1001 (sandbox)"
    [request] = insurer_sandbox.requests
    assert (request.path, request.headers["authorization"]) == (
        "/v1/status",
        f"Bearer {insurer_sandbox.api_key}",
    )
    assert steps == [200, 200, 200, 200]
    assert patch_after_end.status_code == 409
    assert usage["totals"]["requests"] == 1


@pytest.mark.django_db
def test_validation_fails_for_a_wrong_key_with_the_insurers_reason(api, insurer_sandbox):
    created = _create(
        api, insurer_sandbox, api_key_ref=_secret(api, "wrong", "not-the-insurer-key-123")
    )

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith(
        "Insurer (hub insurance interface) answered: hub_insurance_api answered 401"
    )
    assert "The API key is not valid." in run["message"]


@pytest.mark.django_db
def test_validation_fails_when_the_insurer_does_not_offer_a_configured_coverage(
    api, insurer_sandbox
):
    created = _create(api, insurer_sandbox, coverage_types=["accident", "health"])

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].endswith("the insurer does not offer coverage: health")


@pytest.mark.django_db
def test_validation_fails_when_the_insurer_is_down(api, insurer_sandbox):
    created = _create(api, insurer_sandbox)
    insurer_sandbox.go_down(refuse_connections=False)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "answered 503 to GET /v1/status" in run["message"]
    assert api.post(f"{BASE}/{created['id']}/activate/").status_code == 409


@pytest.mark.django_db
def test_validation_with_oauth_uses_the_access_token(api, insurer_sandbox, tenant):
    pytest.importorskip("integrations.oauth.tokens")
    created = _create(api, insurer_sandbox, api_key_ref="", oauth_client_id="hub-insurance-client")
    InsuranceIntegration.objects.filter(pk=created["id"]).update(
        oauth_access_token_ref=_secret(api, "insurer-token", insurer_sandbox.api_key),
        oauth_token_expires_at=timezone.now() + timedelta(hours=1),
    )

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is True, run["message"]
    assert (
        insurer_sandbox.requests[0].headers["authorization"] == f"Bearer {insurer_sandbox.api_key}"
    )


@pytest.mark.django_db
def test_validation_without_any_credential_names_what_to_set(api, insurer_sandbox):
    created = _create(api, insurer_sandbox, api_key_ref="")

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert (
        run["message"] == "missing credential: set api_key_ref, or connect the insurer with OAuth"
    )
    assert insurer_sandbox.requests == []


def _config(sandbox) -> insurer.Config:
    return insurer.Config(
        api_base_url=sandbox.url, bearer_token=sandbox.api_key, broker_id="BRK-1001"
    )


def test_core_operations_speak_the_published_interface(insurer_sandbox):
    config = _config(insurer_sandbox)
    member = {
        "member_id": "M-9",
        "first_name": "Ada",
        "last_name": "Berg",
        "date_of_birth": "2008-04-01",
    }

    enrolment = insurer.enroll_member(
        config,
        policy_group_id="PG-JUNIORS",
        member=member,
        coverage_types=["accident"],
        starts_on="2026-01-01",
    )
    claim = insurer.submit_claim(
        config,
        policy_group_id="PG-JUNIORS",
        member_id="M-9",
        coverage_type="accident",
        incident_date="2026-02-03",
        description="Sprained ankle at practice",
        amount={"value": "1250.00", "currency": "SEK"},
    )
    quote = insurer.quote_premium(
        config,
        policy_group_id="PG-JUNIORS",
        coverage_types=["accident", "travel"],
        member_count=10,
        period_start="2026-01-01",
        period_end="2026-12-31",
    )
    certificate = insurer.issue_certificate(
        config, policy_group_id="PG-JUNIORS", member_id="M-9", coverage_type="accident"
    )

    assert enrolment == {
        "enrollment_id": "ENR-M-9",
        "status": "active",
        "policy_number": "POL-PG-JUNIORS",
    }
    assert claim["status"] == "received"
    assert quote["premium"] == {"value": "2400.00", "currency": "SEK"}
    assert certificate["certificate_id"] == "CERT-M-9"
    assert insurer_sandbox.received["/v1/claims"][0]["amount"] == {
        "value": "1250.00",
        "currency": "SEK",
    }


def test_a_claim_outside_the_policy_is_a_permanent_error(insurer_sandbox):
    with pytest.raises(ProviderRejected) as refused:
        insurer.submit_claim(
            _config(insurer_sandbox),
            policy_group_id="PG-JUNIORS",
            member_id="M-9",
            coverage_type="health",
            incident_date="2026-02-03",
            description="Flu",
            amount={"value": "300.00", "currency": "SEK"},
        )

    assert refused.value.status_code == 422
    assert "coverage 'health' is not in the policy" in str(refused.value)


def test_the_published_interface_is_a_valid_openapi_3_1_document():
    document = json.loads((DOCS_DIR / "insurance.openapi.json").read_text())

    validate(document)  # openapi-spec-validator raises on any departure from OAS 3.1

    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/v1/status",
        "/v1/enrollments",
        "/v1/claims",
        "/v1/premium-quotes",
        "/v1/certificates",
    }
