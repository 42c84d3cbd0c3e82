"""The Stripe payment gateway end to end: refs, pre-flight validation, lifecycle, payments,
usage, the dead-letter queue and credential failures, against a local Stripe sandbox that
checks every request against Stripe's published description."""
import pytest

from integrations.models import DeadLetter, Payment, PaymentGatewayIntegration, ValidationRun

BASE = "/api/v1/integrations/payment-gateways"


def _secret(api, name, value) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _gateway(api, stripe_sandbox, **overrides) -> dict:
    body = {"display_name": "Stripe", "provider": "stripe", "supported_currencies": ["sek", "EUR"],
            "default_currency": "SEK", "api_key_ref": _secret(api, "stripe-key", stripe_sandbox.api_key)} | overrides
    response = api.post(f"{BASE}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _active_gateway(api, stripe_sandbox) -> dict:
    gateway = _gateway(api, stripe_sandbox)
    assert api.post(f"{BASE}/{gateway['id']}/validate/").json()["passed"] is True
    assert api.post(f"{BASE}/{gateway['id']}/activate/").status_code == 200
    return gateway


@pytest.mark.django_db
def test_create_normalises_currencies_and_never_returns_refs(api, stripe_sandbox):
    gateway = _gateway(api, stripe_sandbox)

    assert gateway["status"] == "draft"
    assert gateway["supported_currencies"] == ["SEK", "EUR"]
    assert gateway["credential_refs_set"] == ["api_key_ref"]
    assert "api_key_ref" not in gateway
    assert gateway["webhook_url"].endswith(f"/webhooks/stripe/{gateway['id']}/")
    assert gateway["allowed_actions"] == ["activate", "decommission"]


@pytest.mark.django_db
@pytest.mark.parametrize("override, field", [
    ({"supported_currencies": ["SEK", "XYZ"]}, "supported_currencies"),
    ({"default_currency": "USD"}, "default_currency"),
    ({"api_key_ref": "sk_test_inline_secret_value"}, "api_key_ref"),
    ({"api_key_ref": "local://does-not-exist"}, "api_key_ref"),
    ({"provider": "bitcoin"}, "provider"),
    ({"colour": "blue"}, "colour"),
    ({"capabilities": {"teleport": True}}, "capabilities"),
    ({"status": "active"}, "status"),
])
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api, stripe_sandbox, override, field):
    key_ref = _secret(api, "stripe-key", stripe_sandbox.api_key)
    body = {"display_name": "Stripe", "provider": "stripe", "supported_currencies": ["SEK"],
            "api_key_ref": key_ref} | override

    response = api.post(f"{BASE}/", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not PaymentGatewayIntegration.objects.exists()


@pytest.mark.django_db
def test_validation_passes_with_a_real_sdk_call_then_activation_and_usage(api, stripe_sandbox):
    gateway = _gateway(api, stripe_sandbox)

    run = api.post(f"{BASE}/{gateway['id']}/validate/").json()
    activated = api.post(f"{BASE}/{gateway['id']}/activate/")
    usage = api.get(f"{BASE}/{gateway['id']}/usage/").json()

    assert run["passed"] is True
    assert run["message"] == "authenticated with Stripe (test mode)"
    [request] = stripe_sandbox.requests
    assert (request.method, request.path) == ("GET", "/v1/customers")
    assert request.headers["authorization"] == f"Bearer {stripe_sandbox.api_key}"
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    assert usage["totals"]["requests"] == 1 and usage["totals"]["errors"] == 0


@pytest.mark.django_db
def test_validation_fails_with_stripes_reason_and_activation_stays_refused(api, stripe_sandbox):
    gateway = _gateway(api, stripe_sandbox, api_key_ref=_secret(api, "wrong", "sk_test_wrong_key_123456"))

    run = api.post(f"{BASE}/{gateway['id']}/validate/").json()
    activated = api.post(f"{BASE}/{gateway['id']}/activate/")

    assert run["passed"] is False
    assert run["message"].startswith("Stripe answered: Invalid API Key provided")
    assert "sk_test_wrong_key_123456" not in run["message"]
    assert activated.status_code == 409
    assert ValidationRun.objects.get().passed is False


@pytest.mark.django_db
def test_validation_refuses_a_live_key_in_sandbox_mode_without_calling_stripe(api, stripe_sandbox):
    gateway = _gateway(api, stripe_sandbox, api_key_ref=_secret(api, "live", "sk_live_abcdefghijkl"))

    run = api.post(f"{BASE}/{gateway['id']}/validate/").json()

    assert run["passed"] is False
    assert "test-mode key" in run["message"]
    assert stripe_sandbox.requests == []


@pytest.mark.django_db
def test_validation_fails_when_stripe_is_down(api, stripe_sandbox):
    gateway = _gateway(api, stripe_sandbox)
    stripe_sandbox.go_down()

    run = api.post(f"{BASE}/{gateway['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith("Stripe answered:")
    assert api.get(f"{BASE}/{gateway['id']}/usage/").json()["totals"]["errors"] == 2  # two attempts, both counted


@pytest.mark.django_db(transaction=True)  # payments are enqueued on commit
def test_a_payment_is_accepted_queued_and_created_once_at_stripe(api, stripe_sandbox):
    gateway = _active_gateway(api, stripe_sandbox)
    body = {"amount": 25000, "currency": "sek", "description": "License 2026", "idempotency_key": "lic-2026-42"}

    first = api.post(f"{BASE}/{gateway['id']}/payments/", body, format="json")
    again = api.post(f"{BASE}/{gateway['id']}/payments/", body, format="json")
    conflict = api.post(f"{BASE}/{gateway['id']}/payments/", body | {"amount": 1}, format="json")

    assert first.status_code == 202
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert conflict.status_code == 422
    payment = Payment.objects.get()
    assert payment.status == "requires_action"
    assert payment.provider_payment_id.startswith("pi_")
    creations = [r for r in stripe_sandbox.requests if r.path == "/v1/payment_intents"]
    assert len(creations) == 1
    assert creations[0].params["amount"] == "25000" and creations[0].params["currency"] == "sek"
    assert creations[0].headers["idempotency-key"] == f"hub-payment-{payment.pk}"


@pytest.mark.django_db(transaction=True)  # payments are enqueued on commit
def test_a_paused_gateway_holds_payments_until_resumed(api, stripe_sandbox):
    gateway = _active_gateway(api, stripe_sandbox)
    api.post(f"{BASE}/{gateway['id']}/pause/")

    api.post(f"{BASE}/{gateway['id']}/payments/", {"amount": 100, "currency": "EUR"}, format="json")
    held = Payment.objects.get()
    api.post(f"{BASE}/{gateway['id']}/resume/")
    from integrations.services.payments import payments_requeue_stale

    assert held.status == "queued"
    assert not [r for r in stripe_sandbox.requests if r.path == "/v1/payment_intents"]
    Payment.objects.update(updated_at=held.updated_at.replace(year=2000))
    assert payments_requeue_stale() == 1
    assert Payment.objects.get().status == "requires_action"


@pytest.mark.django_db
def test_a_payment_in_an_unsupported_currency_is_refused(api, stripe_sandbox):
    gateway = _active_gateway(api, stripe_sandbox)

    response = api.post(f"{BASE}/{gateway['id']}/payments/", {"amount": 100, "currency": "USD"}, format="json")

    assert response.status_code == 400
    assert "currency" in response.json()["errors"]
    assert not Payment.objects.exists()


@pytest.mark.django_db(transaction=True)  # payments are enqueued on commit
def test_a_failing_payment_is_dead_lettered_then_replayed_after_stripe_recovers(api, stripe_sandbox, settings):
    settings.TASK_MAX_RETRIES = 2
    gateway = _active_gateway(api, stripe_sandbox)
    stripe_sandbox.fail_next(1000, status=500)

    api.post(f"{BASE}/{gateway['id']}/payments/", {"amount": 900, "currency": "SEK"}, format="json")

    payment = Payment.objects.get()
    assert payment.status == "failed"
    assert payment.attempts == 3  # the first try and two task retries
    letter = api.get("/api/v1/dead-letters/").json()["results"][0]
    assert (letter["operation"], letter["subject_id"], letter["status"]) == ("payment.submit", str(payment.pk), "pending")
    assert "500" in letter["error"] or "Stripe" in letter["error"] or letter["error"]

    stripe_sandbox.reset()
    from adapters import resilience

    resilience.reset_breakers()  # the failures opened the breaker; its reset timeout has "passed"
    replayed = api.post(f"/api/v1/dead-letters/{letter['id']}/replay/").json()

    assert replayed["status"] == "replayed"
    assert Payment.objects.get().status == "requires_action"
    assert DeadLetter.objects.get().replay_count == 1
    assert api.post(f"/api/v1/dead-letters/{letter['id']}/replay/").status_code == 409


@pytest.mark.django_db(transaction=True)  # payments are enqueued on commit
def test_a_permanent_rejection_is_not_retried_nor_dead_lettered(api, stripe_sandbox, settings):
    settings.TASK_MAX_RETRIES = 3
    gateway = _active_gateway(api, stripe_sandbox)
    stripe_sandbox.fail_next(1, status=400, body={"error": {"type": "invalid_request_error",
                                                            "message": "Amount must be at least 3 kr"}})

    api.post(f"{BASE}/{gateway['id']}/payments/", {"amount": 1, "currency": "SEK"}, format="json")

    payment = Payment.objects.get()
    assert payment.status == "failed"
    assert payment.attempts == 1
    assert "Amount must be at least" in payment.last_error
    assert not DeadLetter.objects.exists()


@pytest.mark.django_db(transaction=True)  # payments are enqueued on commit
def test_a_revoked_key_moves_an_active_gateway_to_error(api, stripe_sandbox, settings):
    settings.CREDENTIAL_FAILURES_BEFORE_ERROR = 2
    gateway = _active_gateway(api, stripe_sandbox)
    stripe_sandbox.api_key = "sk_test_rotated_elsewhere"

    for _ in range(2):
        api.post(f"{BASE}/{gateway['id']}/payments/", {"amount": 500, "currency": "SEK"}, format="json")

    detail = api.get(f"{BASE}/{gateway['id']}/").json()
    assert detail["status"] == "error"
    assert "consecutive credential failures" in detail["status_reason"]
    assert api.post(f"{BASE}/{gateway['id']}/payments/", {"amount": 500, "currency": "SEK"},
                    format="json").status_code == 409
