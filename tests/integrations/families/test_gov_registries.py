"""Government registries end to end: country codes, the reporting schedule rules, validation
signed with the federation's certificate against a registry implementing
docs/provider-interfaces/gov-registries.openapi.json, lifecycle, usage and the core operations."""

import json

import pytest
import trustme
from cryptography import x509
from openapi_spec_validator import validate

from adapters.errors import ProviderRejected
from adapters.providers import hub_registry_api as registry
from adapters.providers.hub_interface import CertificateSigner
from integrations.models import GovSportsRegistryIntegration
from tests.sandboxes.provider_interfaces import DOCS_DIR

BASE = "/api/v1/integrations/gov-registries"


def _secret(api, name, value) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _signing_pem(key_type=trustme.KeyType.ECDSA) -> tuple[str, x509.Certificate]:
    leaf = trustme.CA(key_type=key_type).issue_cert(
        "sbf.federation.test", common_name="SBF", key_type=key_type
    )
    pem = leaf.cert_chain_pems[0].bytes() + leaf.private_key_pem.bytes()
    return pem.decode(), x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())


@pytest.fixture
def signing():
    return _signing_pem()


@pytest.fixture
def registry_sandbox(interface_sandbox, signing):
    return interface_sandbox("gov-registries", certificates=[signing[1]])


def _body(api, sandbox, signing, **overrides) -> dict:
    return {
        "display_name": "Riksidrottsförbundet",
        "provider": "hub_registry_api",
        "api_base_url": sandbox.url,
        "country_code": "se",
        "federation_code": "sbf",
        "api_key_ref": _secret(api, "registry-key", sandbox.api_key),
        "signing_certificate_ref": _secret(api, "registry-cert", signing[0]),
        "membership_reporting": True,
        "event_reporting": True,
        "reporting_schedule": {
            "membership_reporting": "0 3 1 * *",
            "event_reporting": "30 4 * * 1",
        },
    } | overrides


def _create(api, sandbox, signing, **overrides) -> dict:
    response = api.post(f"{BASE}/", _body(api, sandbox, signing, **overrides), format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_create_upper_cases_codes_and_keeps_the_schedule(api, registry_sandbox, signing):
    created = _create(api, registry_sandbox, signing)

    assert (created["country_code"], created["federation_code"]) == ("SE", "SBF")
    assert created["reporting_schedule"] == {
        "membership_reporting": "0 3 1 * *",
        "event_reporting": "30 4 * * 1",
    }
    assert created["credential_refs_set"] == ["api_key_ref", "signing_certificate_ref"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field, message",
    [
        ({"country_code": "XX"}, "country_code", "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ({"country_code": "SWE"}, "country_code", None),
        (
            {"reporting_schedule": {"membership_reporting": "0 25 * * *"}},
            "reporting_schedule",
            "membership_reporting: '0 25 * * *' is not a valid cron expression",
        ),
        (
            {"reporting_schedule": {"membership_reporting": "0 3 1 * * 2026"}},
            "reporting_schedule",
            (
                "membership_reporting: must be a cron expression of five fields: "
                "minute hour day-of-month month day-of-week"
            ),
        ),
        (
            {"reporting_schedule": {"grant_applications": "0 3 1 * *"}},
            "reporting_schedule",
            "'grant_applications' is not enabled; enable it or drop its schedule",
        ),
        ({"reporting_schedule": {"tax_return": "0 3 1 * *"}}, "reporting_schedule", None),
        ({"reporting_schedule": ["0 3 1 * *"]}, "reporting_schedule", None),
        (
            {"signing_certificate_ref": "-----BEGIN CERTIFICATE-----"},
            "signing_certificate_ref",
            None,
        ),
        ({"api_base_url": "http://registry.example.se"}, "api_base_url", None),
        ({"grants_total": 3}, "grants_total", "unknown field"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api, registry_sandbox, signing, override, field, message
):
    response = api.post(
        f"{BASE}/", _body(api, registry_sandbox, signing, **override), format="json"
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    if message:
        assert message in errors[field]
    assert not GovSportsRegistryIntegration.objects.exists()


@pytest.mark.django_db
def test_disabling_a_scheduled_report_is_refused(api, registry_sandbox, signing):
    created = _create(api, registry_sandbox, signing)

    response = api.patch(f"{BASE}/{created['id']}/", {"event_reporting": False}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["reporting_schedule"] == [
        "'event_reporting' is not enabled; enable it or drop its schedule"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA], ids=["ecdsa", "rsa"]
)
def test_validation_is_signed_with_the_certificate_then_the_lifecycle_runs(
    api, interface_sandbox, key_type
):
    signing = _signing_pem(key_type)
    sandbox = interface_sandbox("gov-registries", certificates=[signing[1]])
    created = _create(api, sandbox, signing)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()
    steps = [
        api.post(f"{BASE}/{created['id']}/{action}/").status_code
        for action in ("activate", "pause", "resume", "decommission")
    ]
    usage = api.get(f"{BASE}/{created['id']}/usage/").json()

    assert run["passed"] is True, run["message"]
    assert run["message"] == "authenticated with the SE registry as SBF (sandbox)"
    [request] = sandbox.requests
    assert (
        request.headers["x-hub-certificate-sha256"]
        == CertificateSigner.from_pem(signing[0]).fingerprint
    )
    assert steps == [200, 200, 200, 200]
    assert usage["totals"]["requests"] == 1


@pytest.mark.django_db
def test_validation_fails_when_the_registry_does_not_know_the_certificate(
    api, interface_sandbox, signing
):
    sandbox = interface_sandbox("gov-registries", certificates=[_signing_pem()[1]])
    created = _create(api, sandbox, signing)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "answered 401 to GET /v1/status" in run["message"]
    assert "X-Hub-Signature does not verify." in run["message"]


@pytest.mark.django_db
def test_validation_fails_for_a_wrong_key(api, registry_sandbox, signing):
    created = _create(
        api, registry_sandbox, signing, api_key_ref=_secret(api, "wrong", "wrong-registry-key")
    )

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "The API key is not valid." in run["message"]


@pytest.mark.django_db
def test_validation_fails_for_another_country_or_a_certificate_without_its_key(
    api, registry_sandbox, signing
):
    other_country = _create(api, registry_sandbox, signing, country_code="NO")
    no_key = _create(
        api,
        registry_sandbox,
        signing,
        signing_certificate_ref=_secret(api, "cert-only", signing[0].split("-----BEGIN EC")[0]),
    )

    country_run = api.post(f"{BASE}/{other_country['id']}/validate/").json()
    key_run = api.post(f"{BASE}/{no_key['id']}/validate/").json()

    assert country_run["message"].endswith(
        "the registry serves country 'SE', not the configured 'NO'"
    )
    assert key_run == key_run | {
        "passed": False,
        "message": "signing_certificate_ref: the signing certificate "
        "PEM holds no readable, unencrypted private key",
    }


@pytest.mark.django_db
def test_validation_fails_when_the_registry_is_down(api, registry_sandbox, signing):
    created = _create(api, registry_sandbox, signing)
    registry_sandbox.go_down()

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "failed (ConnectError)" in run["message"]


def test_core_operations_speak_the_published_interface(registry_sandbox, signing):
    config = registry.Config(
        api_base_url=registry_sandbox.url,
        api_key=registry_sandbox.api_key,
        signer=CertificateSigner.from_pem(signing[0]),
        federation_code="SBF",
        country_code="SE",
    )

    membership = registry.submit_membership_report(
        config,
        period_start="2025-01-01",
        period_end="2025-12-31",
        totals={"members": 5300, "active_members": 4100, "clubs": 61},
    )
    grant = registry.submit_grant_application(
        config,
        program_code="LOK-2026",
        title="Junior courts",
        description="Two new junior courts",
        requested_amount={"value": "250000.00", "currency": "SEK"},
    )
    facility = registry.register_facility(
        config,
        name="Arena Norr",
        facility_type="hall",
        address={
            "line1": "Idrottsvägen 2",
            "postal_code": "90326",
            "city": "Umeå",
            "country_code": "SE",
        },
    )
    event = registry.submit_event_report(
        config,
        event_name="SM 2026",
        starts_on="2026-03-06",
        ends_on="2026-03-08",
        participants=212,
        venue="Arena Norr",
    )
    compliance = registry.compliance_status(config)

    assert [answer["status"] for answer in (membership, grant, facility, event)] == ["received"] * 4
    assert compliance["status"] == "action_required"
    assert registry_sandbox.received["/v1/membership-reports"][0]["totals"]["members"] == 5300
    assert all(
        request.headers["x-hub-signature"].startswith("ecdsa-sha256=")
        for request in registry_sandbox.requests
    )


def test_a_report_the_interface_refuses_is_a_permanent_error(registry_sandbox, signing):
    config = registry.Config(
        api_base_url=registry_sandbox.url,
        api_key=registry_sandbox.api_key,
        signer=CertificateSigner.from_pem(signing[0]),
        federation_code="SBF",
    )

    with pytest.raises(ProviderRejected) as refused:
        registry.submit_event_report(
            config,
            event_name="SM",
            starts_on="6 March",
            ends_on="2026-03-08",
            participants=-1,
            venue="Arena",
        )

    assert refused.value.status_code == 400
    violations = registry_sandbox.take_violations()
    assert {
        field
        for field in ("starts_on", "participants", "ends_on")
        if any(field in v for v in violations)
    } == {"starts_on", "participants"}


def test_the_published_interface_is_a_valid_openapi_3_1_document():
    document = json.loads((DOCS_DIR / "gov-registries.openapi.json").read_text())

    validate(document)  # openapi-spec-validator raises on any departure from OAS 3.1

    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/v1/status",
        "/v1/membership-reports",
        "/v1/grant-applications",
        "/v1/facility-registrations",
        "/v1/event-reports",
        "/v1/compliance",
    }
