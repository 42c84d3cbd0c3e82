"""The inbound webhook view, per provider, through the real URL: signed with the provider's
own scheme and stored once; refused and stored nothing when the signature, key or time is
wrong; the handshakes; size, config and state checks."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from prometheus_client import REGISTRY

from integrations.lifecycle import Status
from tests.webhooks.signers import CASES, CASES_BY_KEY, make_config, signed_post
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db
CASE_IDS = [case.key for case in CASES]


def _counter(provider: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("webhook_requests_total", {"provider": provider, "outcome": outcome}) or 0.0


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_signed_delivery_is_stored_once_and_its_replay_is_a_no_op(client, tenant, case):
    # given a receiving config holding the provider's key
    config = make_config(tenant, case)
    body = case.body()
    timestamp = int(time.time())

    # when the provider posts a signed delivery, then posts the very same delivery again
    first = signed_post(client, case, config, body=body, timestamp=timestamp)
    again = signed_post(client, case, config, body=body, timestamp=timestamp)

    # then both are acknowledged and the events exist once, for this tenant and config
    assert (first.status_code, again.status_code) == (200, 200)
    events = InboundEvent.objects.filter(integration_id=config.pk)
    assert events.count() == case.expected_events
    assert {e.tenant_id for e in events} == {tenant.pk}
    assert {e.provider for e in events} == {case.key}
    if case.key not in ("elks46", "twilio"):
        assert first.json() == {"stored": case.expected_events, "duplicates": 0}
        assert again.json() == {"stored": 0, "duplicates": case.expected_events}


@pytest.mark.parametrize("case", [c for c in CASES if c.signs_body], ids=[c.key for c in CASES if c.signs_body])
def test_a_tampered_body_is_refused_and_nothing_is_stored(client, tenant, case):
    # given a config, and a signed body that is changed in transit
    config = make_config(tenant, case)
    refused_before = _counter(case.key, "signature_invalid")
    payload_body = case.body()
    signed = case.sign(case, payload_body, f"/webhooks/{case.key}/{config.pk}/", int(time.time()), case.secrets)
    tampered = signed.body.replace(b"}", b', "injected": true}', 1) if not case.form else signed.body + b"&x=1"
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed.headers.items()}

    # when it arrives
    response = client.post(f"/webhooks/{case.key}/{config.pk}/", data=tampered, content_type=case.content_type,
                           **headers)

    # then it is refused, counted, and nothing is stored
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "signature_invalid"
    assert _counter(case.key, "signature_invalid") == refused_before + 1
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_delivery_signed_with_another_key_is_refused(client, tenant, case):
    config = make_config(tenant, case)

    response = signed_post(client, case, config, keys=case.wrong)

    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("case", [c for c in CASES if c.has_timestamp], ids=[c.key for c in CASES if c.has_timestamp])
def test_a_stale_signed_time_is_refused(client, tenant, case):
    config = make_config(tenant, case)
    stale_before = _counter(case.key, "stale_timestamp")

    response = signed_post(client, case, config, timestamp=int(time.time()) - 3600)

    assert response.status_code == 401
    assert response.json()["code"] == "stale_timestamp"
    assert _counter(case.key, "stale_timestamp") == stale_before + 1
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_an_unsigned_delivery_is_refused(client, tenant, case):
    config = make_config(tenant, case)

    response = client.post(f"/webhooks/{case.key}/{config.pk}/", data=case.body(), content_type=case.content_type)

    assert response.status_code == 401
    assert InboundEvent.objects.count() == 0


def test_unknown_config_provider_mismatch_and_unknown_provider_answer_404(client, tenant):
    stripe = CASES_BY_KEY["stripe"]
    config = make_config(tenant, stripe)

    assert signed_post(client, stripe, type("Config", (), {"pk": uuid.uuid4()})()).status_code == 404
    assert client.post(f"/webhooks/mux/{config.pk}/", data=b"{}", content_type="application/json").status_code == 404
    assert client.post(f"/webhooks/nope/{config.pk}/", data=b"{}", content_type="application/json").status_code == 404
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize(("status", "expected"), [
    (Status.DRAFT, 404), (Status.DECOMMISSIONED, 404), (Status.ACTIVE, 200), (Status.PAUSED, 200),
    (Status.ERROR, 200),
])
def test_which_lifecycle_states_receive(client, tenant, status, expected):
    case = CASES_BY_KEY["mux"]
    config = make_config(tenant, case, status=status)

    response = signed_post(client, case, config)

    assert response.status_code == expected
    assert InboundEvent.objects.count() == (1 if expected == 200 else 0)


def test_an_oversized_body_is_refused_before_anything_else(client, tenant, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1024
    case = CASES_BY_KEY["ziggy"]
    config = make_config(tenant, case)
    payload = {"event_type": "access.checkin", "timestamp": "2026-01-01T10:00:00Z",
               "data": {"session_id": "s1", "padding": "x" * 2000}}

    response = signed_post(client, case, config, body=json.dumps(payload).encode())

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert InboundEvent.objects.count() == 0


def test_wrong_method_and_content_type_are_refused(client, tenant):
    case = CASES_BY_KEY["stripe"]
    config = make_config(tenant, case)
    url = f"/webhooks/stripe/{config.pk}/"

    assert client.get(url).status_code == 405
    assert client.put(url, data=b"{}", content_type="application/json").status_code == 405
    assert client.post(url, data=b"a=b", content_type="application/x-www-form-urlencoded").status_code == 415


def test_a_signed_but_malformed_body_is_a_400_and_stores_nothing(client, tenant):
    case = CASES_BY_KEY["ziggy"]
    config = make_config(tenant, case)

    response = signed_post(client, case, config, body=b'{"not": "an event"')

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_payload"
    assert InboundEvent.objects.count() == 0


def test_a_config_whose_key_does_not_resolve_refuses_with_403(client, tenant):
    case = CASES_BY_KEY["mux"]
    config = make_config(tenant, case)
    type(config).objects.filter(pk=config.pk).update(webhook_signing_key_ref="local://nothing-stored-here")

    response = signed_post(client, case, config)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_whatsapp_subscription_handshake_echoes_the_challenge_only_for_the_right_token(client, tenant):
    case = CASES_BY_KEY["whatsapp"]
    config = make_config(tenant, case)
    url = f"/webhooks/whatsapp/{config.pk}/"

    good = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "verify-me-please",
                            "hub.challenge": "1158201444"})
    bad = client.get(url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})

    assert (good.status_code, good.content) == (200, b"1158201444")
    assert (bad.status_code, bad.content) == (403, b"")
    assert InboundEvent.objects.count() == 0


def test_xero_intent_to_receive_answers_200_when_signed_and_401_when_not(client, tenant):
    case = CASES_BY_KEY["xero"]
    config = make_config(tenant, case)
    body = json.dumps({"events": [], "firstEventSequence": 0, "lastEventSequence": 0,
                       "entropy": "S0m3r4Nd0mt3xt"}).encode()

    good = signed_post(client, case, config, body=body)
    bad = signed_post(client, case, config, body=body, keys=case.wrong)

    assert (good.status_code, good.content) == (200, b"")
    assert (bad.status_code, bad.content) == (401, b"")
    assert InboundEvent.objects.count() == 0


def test_twilio_signature_covers_the_public_url_configured_for_the_deployment(client, tenant, settings):
    # given a hub behind a proxy: Twilio calls the public URL, not the one Django sees
    settings.PUBLIC_BASE_URL = "https://hooks.example.org"
    case = CASES_BY_KEY["twilio"]
    config = make_config(tenant, case)

    # when Twilio signs over the public URL, the delivery is accepted
    accepted = signed_post(client, case, config)

    # and a signature over the internal URL is not
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    signed_internal = signed_post(client, case, config)
    settings.PUBLIC_BASE_URL = "https://hooks.example.org"
    from webhooks.receivers import receiver_cache_clear
    receiver_cache_clear()
    replayed_internal = client.post(
        f"/webhooks/twilio/{config.pk}/", data=case.body(), content_type=case.content_type,
        HTTP_X_TWILIO_SIGNATURE=signed_internal.wsgi_request.headers["X-Twilio-Signature"])

    assert accepted.status_code == 200
    assert accepted["Content-Type"] == "text/xml"
    assert replayed_internal.status_code == 401
    assert InboundEvent.objects.count() == 1


def test_elks46_allowlist_refuses_other_source_addresses(client, tenant):
    case = CASES_BY_KEY["elks46"]
    config = make_config(tenant, case)
    type(config).objects.filter(pk=config.pk).update(webhook_allowed_networks=["176.10.154.199/32"])

    outside = signed_post(client, case, config)
    inside = signed_post(client, case, config, extra={"REMOTE_ADDR": "176.10.154.199"})

    assert outside.status_code == 401
    assert (inside.status_code, inside.content) == (200, b"")
    assert InboundEvent.objects.count() == 1


def test_a_sendgrid_batch_is_one_insert(client, tenant, django_assert_max_num_queries):
    case = CASES_BY_KEY["sendgrid"]
    config = make_config(tenant, case)
    signed_post(client, case, config, body=b"[]")  # warm the config cache: the lookup is not per request

    with django_assert_max_num_queries(1):
        response = signed_post(client, case, config)

    assert response.json() == {"stored": 3, "duplicates": 0}


def test_the_webhook_url_is_shown_for_a_config_that_receives_webhooks(api, tenant):
    config = make_config(tenant, CASES_BY_KEY["stripe"])

    detail = api.get(f"/api/v1/integrations/payment-gateways/{config.pk}/").json()

    assert detail["webhook_url"] == f"http://127.0.0.1:8000/webhooks/stripe/{config.pk}/"


def test_a_mailgun_signature_reused_with_other_event_data_stores_nothing(client, tenant):
    # given a genuine Mailgun delivery (its signature covers timestamp + token, not the event)
    case = CASES_BY_KEY["mailgun"]
    config = make_config(tenant, case)
    genuine = json.loads(case.body())
    signed = case.sign(case, json.dumps(genuine).encode(), "", int(time.time()), case.secrets)
    url = f"/webhooks/mailgun/{config.pk}/"
    first = client.post(url, data=signed.body, content_type="application/json")

    # when someone replays its signature block with forged event data
    forged = json.loads(signed.body)
    forged["event-data"] = {**forged["event-data"], "id": "forged-event", "event": "failed"}
    replayed = client.post(url, data=json.dumps(forged).encode(), content_type="application/json")
    # and Mailgun itself retries the genuine delivery
    retried = client.post(url, data=signed.body, content_type="application/json")

    # then only the genuine event is stored: the reused token keeps the forgery out
    assert first.json() == {"stored": 1, "duplicates": 0}
    assert replayed.json() == {"stored": 0, "duplicates": 1}
    assert retried.json() == {"stored": 0, "duplicates": 1}
    assert list(InboundEvent.objects.values_list("external_id", flat=True)) == [genuine["event-data"]["id"]]
