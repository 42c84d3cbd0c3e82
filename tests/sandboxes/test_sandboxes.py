"""The sandbox framework itself: spec validation, fault injection, keep-alive, the Stripe sandbox
against the real stripe SDK, and the webhook signature helper against stripe's own verifier."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import stripe

from tests.sandboxes.base import SandboxServer
from tests.sandboxes.fixtures import _fail_on_violations
from tests.sandboxes.openapi import decode_bracket_form, spec_validator
from tests.sandboxes.stripe import (
    DEFAULT_API_KEY,
    StripeSandbox,
    stripe_signature_header,
    stripe_validator,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _stripe_http(sandbox: StripeSandbox) -> httpx.Client:
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.api_key}"})


def _sdk(sandbox: StripeSandbox, **options) -> stripe.StripeClient:
    return stripe.StripeClient(sandbox.api_key, base_addresses={"api": sandbox.url}, **options)


# bracket decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded, decoded",
    [
        ("amount=100&currency=usd", {"amount": "100", "currency": "usd"}),
        ("metadata[order]=42&metadata[club]=a%20b", {"metadata": {"order": "42", "club": "a b"}}),
        ("expand[]=customer&expand[]=latest_charge", {"expand": ["customer", "latest_charge"]}),
        ("items[0][price]=p1&items[1][price]=p2", {"items": {"0": {"price": "p1"}, "1": {"price": "p2"}}}),
        ("shipping[address][line1]=Main%201", {"shipping": {"address": {"line1": "Main 1"}}}),
        ("metadata=", {"metadata": ""}),
    ],
)
def test_decode_bracket_form_reads_stripe_notation(encoded, decoded):
    assert decode_bracket_form(encoded) == decoded


# spec validation ---------------------------------------------------------------------------------


def test_valid_request_passes_and_is_recorded(stripe_sandbox):
    # given a well-formed PaymentIntent create
    with _stripe_http(stripe_sandbox) as http:
        # when it is sent
        body = b"amount=1500&currency=sek&metadata[order]=42"
        response = http.post("/v1/payment_intents", content=body, headers=FORM)

    # then Stripe's answer comes back and the request is recorded as received
    assert response.status_code == 200
    assert response.json()["object"] == "payment_intent"
    assert response.json()["amount"] == 1500
    assert response.json()["metadata"] == {"order": "42"}
    (recorded,) = stripe_sandbox.requests
    assert (recorded.method, recorded.path, recorded.status) == ("POST", "/v1/payment_intents", 200)
    assert recorded.body == b"amount=1500&currency=sek&metadata[order]=42"
    assert recorded.parsed_body == {"amount": "1500", "currency": "sek", "metadata": {"order": "42"}}
    assert recorded.headers["authorization"] == f"Bearer {stripe_sandbox.api_key}"
    assert recorded.violations == []
    assert stripe_sandbox.violations == []


SHIPPING = b"shipping[name]=A&shipping[address][city]=B"


@pytest.mark.parametrize(
    "method, path, body, code, param, message",
    [
        ("POST", "/v1/payment_intents", b"amount=100&currency=usd&amount_typo=5",
         "parameter_unknown", "amount_typo", "Received unknown parameter: amount_typo"),
        ("POST", "/v1/payment_intents", b"amount=abc&currency=usd",
         "parameter_invalid", "amount", "Invalid amount: 'abc' is not of type 'integer'"),
        ("POST", "/v1/payment_intents", b"currency=usd",
         "parameter_missing", "amount", "Missing required param: amount."),
        ("POST", "/v1/payment_intents", b"amount=100&currency=usd&" + SHIPPING + b"&shipping[bogus]=1",
         "parameter_unknown", "shipping[bogus]", "Received unknown parameter: shipping[bogus]"),
        ("GET", "/v1/payment_intents/pi_123?amount_typo=5", b"",
         "parameter_unknown", "amount_typo", "Received unknown parameter: amount_typo"),
    ],
)
def test_request_the_provider_would_refuse_is_400_in_stripe_shape_and_recorded(
    stripe_sandbox, method, path, body, code, param, message
):
    # given a request Stripe would refuse
    with _stripe_http(stripe_sandbox) as http:
        # when it is sent
        response = http.request(method, path, content=body, headers=FORM)

    # then Stripe's error shape comes back and the violation is recorded for the fixture to fail on
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["code"], error["param"], error["message"]) == (code, param, message)
    (violation,) = stripe_sandbox.requests[0].violations
    assert stripe_sandbox.take_violations() == [f"{method} {path.split('?')[0]}: {violation}"]
    assert stripe_sandbox.payment_intent_creations == 0


def test_operation_missing_from_the_description_is_404_and_recorded(stripe_sandbox):
    with _stripe_http(stripe_sandbox) as http:
        response = http.get("/v1/balance")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    violations = stripe_sandbox.take_violations()
    assert len(violations) == 1 and violations[0].startswith("GET /v1/balance: unknown_operation:")


def test_fixture_teardown_fails_the_test_when_violations_remain():
    # given a sandbox that received a request Stripe would refuse, never acknowledged
    with StripeSandbox() as sandbox, _stripe_http(sandbox) as http:
        http.post("/v1/payment_intents", content=b"amount=100&currency=usd&amount_typo=5", headers=FORM)

        # when the fixture's teardown check runs, then it fails the test naming the violation
        with pytest.raises(pytest.fail.Exception, match="Received unknown parameter: amount_typo"):
            _fail_on_violations([sandbox])


def test_json_provider_is_validated_through_openapi_core(sandbox_factory):
    # given a SendGrid-shaped sandbox built from the generic factory
    sandbox = sandbox_factory(SandboxServer, validator=spec_validator("sendgrid-mail.json"))
    sandbox.add_route("POST", "/v3/mail/send", lambda request: (202, {}, b""))
    good = {"personalizations": [{"to": [{"email": "a@example.org"}]}], "from": {"email": "hub@example.org"},
            "subject": "Hi", "content": [{"type": "text/plain", "value": "Hello"}]}

    # when a valid and an invalid body are sent
    accepted = httpx.post(sandbox.url + "/v3/mail/send", json=good)
    refused = httpx.post(sandbox.url + "/v3/mail/send", json={**good, "personalizations": "everyone"})

    # then only the invalid one is refused and recorded
    assert accepted.status_code == 202
    assert refused.status_code == 400
    assert [request.status for request in sandbox.requests] == [202, 400]
    assert [violation.param for violation in sandbox.requests[1].violations] == ["personalizations"]
    assert len(sandbox.take_violations()) == 1


def test_server_base_path_of_the_description_is_required(sandbox_factory):
    # given Microsoft Graph, whose server is https://graph.microsoft.com/v1.0/
    sandbox = sandbox_factory(SandboxServer, validator=spec_validator("msgraph-calendar.json"))
    sandbox.add_route("GET", "/v1.0/users/{user}/events", lambda request: (200, {}, {"value": []}))

    # when the hub calls under the base path and, wrongly, without it
    under_base = httpx.get(sandbox.api_base_url + "/users/u-1/events")
    without_base = httpx.get(sandbox.url + "/users/u-1/events")

    # then the first matches the description and the second is a recorded violation
    assert sandbox.api_base_url == sandbox.url + "/v1.0"
    assert under_base.status_code == 200
    assert without_base.status_code == 400
    assert sandbox.requests[1].violations[0].kind == "unknown_operation"
    assert len(sandbox.take_violations()) == 1


def test_sandbox_objects_match_stripes_response_schemas(stripe_sandbox):
    # given every kind of object the sandbox makes
    client = _sdk(stripe_sandbox)
    client.v1.customers.create(params={"email": "a@example.org", "name": "Ann"})
    intent = client.v1.payment_intents.create(
        params={"amount": 900, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True})
    client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 400})
    validator = stripe_validator()
    objects = [("customer", customer) for customer in stripe_sandbox.customers.values()]
    objects += [("payment_intent", stripe_sandbox.payment_intents[intent.id])]
    objects += [("charge", charge) for charge in stripe_sandbox.charges.values()]
    objects += [("refund", refund) for refund in stripe_sandbox.refunds.values()]
    objects += [("event", event) for event in stripe_sandbox.events.values()]

    # then each one validates against its schema in specs/stripe.json, and a wrong one would not
    assert [validator.object_violations(name, value) for name, value in objects] == [[]] * len(objects)
    assert {name for name, _ in objects} == {"customer", "payment_intent", "charge", "refund", "event"}
    broken = {**stripe_sandbox.payment_intents[intent.id], "status": "paid"}
    assert [violation.param for violation in validator.object_violations("payment_intent", broken)] == ["status"]


# fault injection ---------------------------------------------------------------------------------


def test_fail_next_answers_the_given_status_then_recovers(stripe_sandbox):
    stripe_sandbox.fail_next(2, status=503)
    with _stripe_http(stripe_sandbox) as http:
        responses = [http.get("/v1/customers") for _ in range(3)]

    assert [response.status_code for response in responses] == [503, 503, 200]
    assert responses[0].headers["Retry-After"] == "1"
    assert responses[0].json()["error"]["type"] == "api_error"
    assert stripe_sandbox.request_count == 3


def test_fail_next_with_a_custom_body(stripe_sandbox):
    body = {"error": {"type": "invalid_request_error", "code": "rate_limit"}}
    stripe_sandbox.fail_next(1, status=429, body=body, headers={})
    with _stripe_http(stripe_sandbox) as http:
        response = http.get("/v1/customers")

    assert (response.status_code, response.json(), response.headers.get("Retry-After")) == (429, body, None)


def test_delay_slows_every_answer_until_turned_off(stripe_sandbox):
    stripe_sandbox.delay(0.3)
    with _stripe_http(stripe_sandbox) as http:
        started = time.monotonic()
        http.get("/v1/customers")
        slow = time.monotonic() - started
        stripe_sandbox.delay(0)
        started = time.monotonic()
        http.get("/v1/customers")
        fast = time.monotonic() - started

    assert slow >= 0.3
    assert fast < 0.3


def test_go_down_refuses_connections_and_come_back_listens_on_the_same_port(stripe_sandbox):
    url = stripe_sandbox.url
    with _stripe_http(stripe_sandbox) as http:
        assert http.get("/v1/customers").status_code == 200  # opens a keep-alive connection
        stripe_sandbox.go_down()
        with pytest.raises(httpx.TransportError):
            http.get("/v1/customers")
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/v1/customers")
        stripe_sandbox.come_back()
        assert stripe_sandbox.url == url
        assert http.get("/v1/customers").status_code == 200


def test_go_down_with_503_keeps_the_socket(stripe_sandbox):
    stripe_sandbox.go_down(refuse_connections=False)
    with _stripe_http(stripe_sandbox) as http:
        down = http.get("/v1/customers")
        stripe_sandbox.come_back()
        up = http.get("/v1/customers")

    assert (down.status_code, up.status_code) == (503, 200)


def test_reset_forgets_requests_faults_and_objects(stripe_sandbox):
    with _stripe_http(stripe_sandbox) as http:
        http.post("/v1/payment_intents", content=b"amount=100&currency=usd", headers=FORM)
    stripe_sandbox.fail_next(3)
    stripe_sandbox.delay(5)

    stripe_sandbox.reset()

    assert (stripe_sandbox.requests, stripe_sandbox.request_count, stripe_sandbox.payment_intents) == ([], 0, {})
    with _stripe_http(stripe_sandbox) as http:
        assert http.get("/v1/customers", timeout=2).status_code == 200


def test_keep_alive_and_concurrent_clients(stripe_sandbox):
    # given one keep-alive client per thread
    def hammer(statuses: list[int]) -> None:
        with _stripe_http(stripe_sandbox) as http:
            statuses.extend(http.get("/v1/customers", params={"limit": 1}).status_code for _ in range(25))

    results: list[list[int]] = [[] for _ in range(8)]
    threads = [threading.Thread(target=hammer, args=(statuses,)) for statuses in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then every request was answered and each client reused one connection
    assert [statuses.count(200) for statuses in results] == [25] * 8
    assert stripe_sandbox.request_count == 200
    assert len({request.client_address for request in stripe_sandbox.requests}) == 8


# Stripe through its own SDK ----------------------------------------------------------------------


def test_stripe_sdk_lists_customers_and_creates_an_intent_idempotently(stripe_sandbox):
    client = _sdk(stripe_sandbox)

    # when the hub's two calls go through the real SDK, the create twice with one key
    page = client.v1.customers.list(params={"limit": 1})
    params = {"amount": 2500, "currency": "sek", "description": "Licence 2026", "metadata": {"member": "m-1"}}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": "order-77"})
    again = client.v1.payment_intents.create(params=params, options={"idempotency_key": "order-77"})

    # then the SDK got typed objects, one intent was created, and every request was valid
    assert isinstance(page, stripe.ListObject) and page.data == []
    assert isinstance(first, stripe.PaymentIntent)
    assert (first.id, first.amount, first.currency, first.status) == (again.id, 2500, "sek", "requires_payment_method")
    assert first.id.startswith("pi_") and first.metadata["member"] == "m-1"
    assert stripe_sandbox.payment_intent_creations == 1
    listed, created, replayed = stripe_sandbox.requests
    assert (listed.method, listed.path, listed.query_string) == ("GET", "/v1/customers", "limit=1")
    assert created.headers["idempotency-key"] == replayed.headers["idempotency-key"] == "order-77"
    assert stripe_sandbox.violations == []


def test_idempotency_key_reused_with_other_parameters_is_refused(stripe_sandbox):
    client = _sdk(stripe_sandbox)
    same_key = {"idempotency_key": "k"}
    client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"}, options=same_key)

    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(params={"amount": 200, "currency": "usd"}, options=same_key)
    assert stripe_sandbox.payment_intent_creations == 1


def test_stripe_sdk_with_a_wrong_key_raises_authentication_error(stripe_sandbox):
    client = stripe.StripeClient("sk_test_not_the_right_key_9999", base_addresses={"api": stripe_sandbox.url})

    with pytest.raises(stripe.AuthenticationError) as raised:
        client.v1.customers.list(params={"limit": 1})

    assert raised.value.http_status == 401
    assert str(raised.value.user_message) == "Invalid API Key provided: sk_test_******************9999"


def test_stripe_client_does_not_retry_by_default(stripe_sandbox):
    # StripeClient leaves max_network_retries unset, which the SDK reads as 0 (the module-level
    # `stripe.max_network_retries = 2` applies to the global-config API only).
    stripe_sandbox.fail_next(1, status=503)

    with pytest.raises(stripe.APIError) as raised:
        _sdk(stripe_sandbox).v1.customers.list(params={"limit": 1})

    assert raised.value.http_status == 503
    assert stripe_sandbox.request_count == 1


def test_stripe_sdk_retries_503_itself_when_asked_and_keeps_the_idempotency_key(stripe_sandbox):
    # given two failures and an SDK allowed two retries (it backs off ~0.5 s, 1 s; Retry-After is ignored)
    stripe_sandbox.fail_next(2, status=503)

    client = _sdk(stripe_sandbox, max_network_retries=2)
    intent = client.v1.payment_intents.create(params={"amount": 700, "currency": "usd"})

    # then the third attempt created the intent once, all attempts carrying the SDK's own key
    assert intent.status == "requires_payment_method"
    assert [request.status for request in stripe_sandbox.requests] == [503, 503, 200]
    assert len({request.headers["idempotency-key"] for request in stripe_sandbox.requests}) == 1
    assert stripe_sandbox.payment_intent_creations == 1


def test_stripe_sdk_raises_api_connection_error_when_the_sandbox_is_down(stripe_sandbox):
    stripe_sandbox.go_down()

    with pytest.raises(stripe.APIConnectionError):
        _sdk(stripe_sandbox).v1.customers.list(params={"limit": 1})


def test_confirmed_intent_succeeds_refunds_and_records_events(stripe_sandbox):
    client = _sdk(stripe_sandbox)
    intent = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})

    refund = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 600})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 600})
    types = {event["type"]: event["id"] for event in stripe_sandbox.events.values()}
    fetched = client.v1.events.retrieve(types["payment_intent.succeeded"])

    assert (intent.status, intent.amount_received) == ("succeeded", 1000)
    assert (refund.amount, refund.status, refund.payment_intent) == (600, "succeeded", intent.id)
    assert refund.id.startswith("re_")
    assert too_much.value.code == "amount_too_large"
    assert fetched.type == "payment_intent.succeeded" and fetched.data.object.id == intent.id
    assert [event["type"] for event in stripe_sandbox.events.values()] == [
        "payment_intent.created", "payment_intent.succeeded", "charge.refunded"]


def test_declining_test_card_raises_card_error(stripe_sandbox):
    client = _sdk(stripe_sandbox)

    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            params={"amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": True})

    assert (declined.value.http_status, declined.value.code) == (402, "card_declined")


# webhooks ----------------------------------------------------------------------------------------


def test_signed_webhook_verifies_with_stripes_own_verifier(stripe_sandbox):
    # given an event the sandbox made, signed as Stripe signs it
    event = stripe_sandbox.emit_event("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    payload, headers = stripe_sandbox.signed_webhook(event)

    # when stripe's SDK verifies it
    secret, signature = stripe_sandbox.webhook_secret, headers["Stripe-Signature"]
    constructed = stripe.Webhook.construct_event(payload, signature, secret)

    # then it is accepted, and a tampered body or a stale timestamp is not
    assert (constructed.id, constructed.type) == (event["id"], "payment_intent.succeeded")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload + b" ", signature, secret, 300)
    stale = stripe_signature_header(payload, secret, int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, stale, secret, 300)


# separate process --------------------------------------------------------------------------------


def test_runs_as_a_separate_process_with_control_endpoints():
    # given the sandbox started the way a benchmark starts it
    repository_root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "tests.sandboxes.stripe", "--port", "0"],
                               stdout=subprocess.PIPE, text=True, cwd=repository_root)
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        # when faults are injected over HTTP and a request is made
        httpx.post(url + "/__sandbox/faults", json={"fail_next": 1, "status": 502})
        failed = httpx.get(url + "/v1/customers", headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"})
        state = httpx.get(url + "/__sandbox/state").json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    # then the fault was served and the state reports it
    assert failed.status_code == 502
    assert state == {"request_count": 1, "violations": [], "payment_intent_creations": 0}
    assert process.returncode == 0
    assert json.loads(failed.text)["error"]["type"] == "api_error"
