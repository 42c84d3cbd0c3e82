"""The non-Stripe payment gateways end to end: PayPal, Swish (mTLS), iDEAL (Rabo Smart Pay),
Mercado Pago and PagBank. Each is created in draft, validated against its local sandbox (passed
and failed), taken through the lifecycle, and its validation calls are counted as usage."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import trustme

from integrations.models import PaymentGatewayIntegration

BASE = "/api/v1/integrations/payment-gateways"


def _secret(api, name, value) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


@dataclass(frozen=True)
class Case:
    provider: str
    fixture: str
    body: Callable  # (api, sandbox) -> the provider's fields
    refs: list
    passed: str  # the validation message
    wrong: Callable  # (api, sandbox) -> fields with a wrong credential
    refused: str  # what the provider's refusal says
    currencies: tuple = ("EUR",)


CASES = [
    Case(
        "paypal",
        "paypal_sandbox",
        lambda api, s: {
            "oauth_client_id": s.client_id,
            "oauth_client_secret_ref": _secret(api, "pp-secret", s.client_secret),
        },
        ["oauth_client_secret_ref"],
        "authenticated with PayPal (sandbox); 1 webhook(s) registered",
        lambda api, s: {
            "oauth_client_id": s.client_id,
            "oauth_client_secret_ref": _secret(api, "pp-wrong", "EHwrongSecret0123456789"),
        },
        '"error": "invalid_client", "error_description": "Client Authentication failed"',
    ),
    Case(
        "swish",
        "swish_sandbox",
        lambda api, s: {
            "merchant_account_id": "1231181189",
            "signing_certificate_ref": _secret(api, "swish-cert", s.client_certificate_pem()),
        },
        ["signing_certificate_ref"],
        "authenticated with Swish (Merchant Swish Simulator): the client certificate was accepted",
        lambda api, s: {
            "merchant_account_id": "1231181189",
            "signing_certificate_ref": _secret(
                api, "swish-other-ca", s.client_certificate_pem(ca=trustme.CA())
            ),
        },
        "Swish refused the client certificate",
        ("SEK",),
    ),
    Case(
        "ideal",
        "ideal_sandbox",
        lambda api, s: {"api_key_ref": _secret(api, "rabo-refresh", s.refresh_token)},
        ["api_key_ref"],
        "authenticated with Rabo Smart Pay; iDEAL is active",
        lambda api, s: {"api_key_ref": _secret(api, "rabo-wrong", "expired-refresh-token-0123")},
        "The refresh token is invalid or expired.",
    ),
    Case(
        "mercado_pago",
        "mercado_pago_sandbox",
        lambda api, s: {"api_key_ref": _secret(api, "mp-token", s.access_token)},
        ["api_key_ref"],
        "authenticated with Mercado Pago as TESTFEDERATION (MLB, test)",
        lambda api, s: {"api_key_ref": _secret(api, "mp-wrong", "TEST-0000-wrong-token")},
        '"message": "invalid access token"',
        ("BRL",),
    ),
    Case(
        "pagseguro",
        "pagseguro_sandbox",
        lambda api, s: {"api_key_ref": _secret(api, "pb-token", s.token)},
        ["api_key_ref"],
        "authenticated with PagBank (card public key present)",
        lambda api, s: {"api_key_ref": _secret(api, "pb-wrong", "wrong-pagbank-token-0123")},
        "Invalid credential. Review AUTHORIZATION header",
        ("BRL",),
    ),
]
IDS = [case.provider for case in CASES]


def _create(api, case: Case, sandbox, fields: dict | None = None) -> dict:
    body = {
        "display_name": case.provider,
        "provider": case.provider,
        "supported_currencies": list(case.currencies),
        **(case.body(api, sandbox) if fields is None else fields),
    }
    response = api.post(f"{BASE}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture(params=CASES, ids=IDS)
def case(request):
    return request.param, request.getfixturevalue(request.param.fixture)


@pytest.mark.django_db
def test_create_keeps_a_draft_and_never_returns_refs(api, case):
    case, sandbox = case

    created = _create(api, case, sandbox)

    assert created["status"] == "draft"
    assert created["credential_refs_set"] == case.refs
    assert not any(name in created for name in case.refs)


@pytest.mark.django_db
def test_validation_passes_then_the_lifecycle_runs_and_usage_counts(api, case):
    case, sandbox = case
    created = _create(api, case, sandbox)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()
    steps = [
        api.post(f"{BASE}/{created['id']}/{action}/").status_code
        for action in ("activate", "pause", "resume", "decommission")
    ]
    illegal = api.post(f"{BASE}/{created['id']}/pause/")
    usage = api.get(f"{BASE}/{created['id']}/usage/").json()

    assert run["passed"] is True, run["message"]
    assert run["message"] == case.passed
    assert sandbox.requests and all(request.status in (200, 404) for request in sandbox.requests)
    assert steps == [200, 200, 200, 200]
    assert illegal.status_code == 409 and illegal.json()["allowed_actions"] == []
    assert usage["totals"] == usage["totals"] | {"requests": 1, "errors": 0}


@pytest.mark.django_db
def test_validation_fails_with_the_providers_reason_for_a_wrong_credential(api, case):
    case, sandbox = case
    created = _create(api, case, sandbox, case.wrong(api, sandbox))

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert case.refused in run["message"], run["message"]
    assert api.post(f"{BASE}/{created['id']}/activate/").status_code == 409
    assert (
        api.get(f"{BASE}/{created['id']}/usage/").json()["totals"]["errors"] == 1
    )  # permanent: no retry


@pytest.mark.django_db
def test_validation_fails_when_the_provider_is_down(api, case):
    case, sandbox = case
    created = _create(api, case, sandbox)
    sandbox.go_down()

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "ConnectError" in run["message"]
    assert api.get(f"{BASE}/{created['id']}/usage/").json()["totals"]["errors"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field",
    [
        ({"provider": "swish", "merchant_account_id": "46701234567"}, "merchant_account_id"),
        (
            {"provider": "paypal", "oauth_client_secret_ref": "EHpastedSecretValue0123"},
            "oauth_client_secret_ref",
        ),
        ({"provider": "ideal", "supported_currencies": ["EUR", "GULDEN"]}, "supported_currencies"),
        (
            {"provider": "pagseguro", "default_currency": "USD", "supported_currencies": ["BRL"]},
            "default_currency",
        ),
        ({"provider": "mercado_pago", "access_token": "APP_USR-123"}, "access_token"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api, override, field):
    body = {"display_name": "gateway", "supported_currencies": ["EUR"]} | override

    response = api.post(f"{BASE}/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not PaymentGatewayIntegration.objects.exists()


@pytest.mark.django_db
def test_paypal_without_a_client_id_fails_validation_naming_it(api, paypal_sandbox):
    created = _create(
        api,
        CASES[0],
        paypal_sandbox,
        {"oauth_client_secret_ref": _secret(api, "pp-secret", paypal_sandbox.client_secret)},
    )

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["message"] == "oauth_client_id is required: PayPal's REST app client id"
    assert paypal_sandbox.requests == []


@pytest.mark.django_db
def test_swish_refuses_a_certificate_for_a_merchant_it_does_not_know(api, swish_sandbox):
    created = _create(
        api,
        CASES[1],
        swish_sandbox,
        {
            "merchant_account_id": "1239999999",
            "signing_certificate_ref": _secret(
                api, "swish-other", swish_sandbox.client_certificate_pem("1239999999")
            ),
        },
    )

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert "swish answered 401 to GET api/v1/paymentrequests/" in run["message"]


@pytest.mark.django_db
def test_swish_needs_the_servers_ca_to_be_trusted(api, swish_sandbox, monkeypatch):
    created = _create(api, CASES[1], swish_sandbox)
    monkeypatch.delenv("PROVIDER_SWISH_CA_BUNDLE")

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].endswith(
        "the Swish server's certificate is not trusted; set PROVIDER_SWISH_CA_BUNDLE "
        "to the Swish TLS root CA"
    )


@pytest.mark.django_db
def test_swish_refuses_a_pem_without_its_private_key_before_connecting(api, swish_sandbox):
    certificate_only = swish_sandbox.client_certificate_pem().split(
        "-----BEGIN EC PRIVATE KEY-----"
    )[0]
    created = _create(
        api,
        CASES[1],
        swish_sandbox,
        {
            "merchant_account_id": "1231181189",
            "signing_certificate_ref": _secret(api, "c", certificate_only),
        },
    )

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["message"] == (
        "signing_certificate_ref: the signing certificate PEM holds no readable, unencrypted "
        "private key"
    )
    assert swish_sandbox.requests == [] and swish_sandbox.handshake_failures == 0


@pytest.mark.django_db
def test_ideal_fails_when_the_contract_has_ideal_switched_off(api, ideal_sandbox):
    ideal_sandbox.brands[0]["status"] = "Inactive"
    created = _create(api, CASES[2], ideal_sandbox)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert (
        run["message"]
        == "iDEAL (Rabo Smart Pay) answered: iDEAL is not active on this Rabo Smart Pay contract"
    )


@pytest.mark.django_db
def test_mercado_pago_refuses_live_credentials_in_sandbox_mode(api, mercado_pago_sandbox):
    mercado_pago_sandbox.access_token = "APP_USR-1234567890-live"
    mercado_pago_sandbox.user["tags"] = ["normal"]
    created = _create(api, CASES[3], mercado_pago_sandbox)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["message"] == (
        "Mercado Pago answered: sandbox mode needs Mercado Pago test credentials "
        "(a TEST- access token or a test user's)"
    )


@pytest.mark.django_db
def test_pagbank_without_a_card_public_key_still_authenticates(api, pagseguro_sandbox):
    pagseguro_sandbox.has_public_key = False
    created = _create(api, CASES[4], pagseguro_sandbox)

    run = api.post(f"{BASE}/{created['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == "authenticated with PagBank (no card public key created yet)"
