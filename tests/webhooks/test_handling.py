"""After an event is stored: handlers run once after commit, move state only forward, are
retried and dead-lettered when they keep failing, can be replayed, and echoes are ignored."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from adapters.inbound import EventType
from integrations.models import DeadLetter, OutboxEvent, Payment
from integrations.services.deadletters import dead_letter_replay
from tests.webhooks.signers import CASES_BY_KEY, fixture_payload, make_config, signed_post
from webhooks.handlers import register_echo_checker, register_handler, unregister_echo_checker, unregister_handler
from webhooks.models import InboundEvent
from webhooks.services.inbound import inbound_events_dispatch_due

pytestmark = pytest.mark.django_db
STRIPE = CASES_BY_KEY["stripe"]
ZIGGY = CASES_BY_KEY["ziggy"]
INTENT = "pi_3QfK2nLkdIwHu7ix1R4vT8sA"


@pytest.fixture(autouse=True)
def only_our_handlers(monkeypatch):
    """Other apps register handlers and echo checkers for the same providers; these tests see
    only the Stripe payment handler and what they register themselves."""
    from webhooks import handlers, payment_handlers

    ours = {key: [h for h in registered if h is payment_handlers.stripe_payment_intent_outcome]
            for key, registered in handlers._handlers.items()}
    monkeypatch.setattr(handlers, "_handlers", {key: found for key, found in ours.items() if found})
    monkeypatch.setattr(handlers, "_echo_checkers", [])


@pytest.fixture
def gateway_payment(tenant):
    gateway = make_config(tenant, STRIPE)
    payment = Payment.objects.create(tenant=tenant, integration=gateway, amount=25000, currency="SEK",
                                     status=Payment.Status.PROCESSING, provider_payment_id=INTENT)
    return gateway, payment


def _post(client, case, config, fixture_name, capture):
    body = case.body(fixture_payload(case.key, fixture_name))
    with capture(execute=True):
        return signed_post(client, case, config, body=body)


def test_stripe_payment_succeeded_moves_the_payment_and_tells_the_tenant(
        client, tenant, gateway_payment, django_capture_on_commit_callbacks):
    gateway, payment = gateway_payment

    response = _post(client, STRIPE, gateway, "payment_intent.succeeded__card", django_capture_on_commit_callbacks)

    payment.refresh_from_db()
    event = InboundEvent.objects.get()
    assert response.status_code == 200
    assert payment.status == Payment.Status.SUCCEEDED
    assert (event.status, event.attempts, event.subject_id) == (InboundEvent.Status.HANDLED, 1, INTENT)
    emitted = OutboxEvent.objects.get(event_type="payment.succeeded")
    assert emitted.data["payment_id"] == str(payment.pk)


def test_a_late_payment_failed_never_overwrites_succeeded(
        client, tenant, gateway_payment, django_capture_on_commit_callbacks):
    gateway, payment = gateway_payment
    _post(client, STRIPE, gateway, "payment_intent.succeeded__card", django_capture_on_commit_callbacks)

    _post(client, STRIPE, gateway, "payment_intent.payment_failed__card_declined", django_capture_on_commit_callbacks)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert sorted(InboundEvent.objects.values_list("status", flat=True)) == ["handled", "handled"]
    assert not OutboxEvent.objects.filter(event_type="payment.failed").exists()


def test_a_payment_failed_records_the_decline(client, tenant, gateway_payment, django_capture_on_commit_callbacks):
    gateway, payment = gateway_payment

    _post(client, STRIPE, gateway, "payment_intent.payment_failed__card_declined", django_capture_on_commit_callbacks)

    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert "card_declined" in payment.last_error


class FlakyCheckinHandler:
    def __init__(self) -> None:
        self.broken = True
        self.seen: list[str] = []

    def __call__(self, event: InboundEvent) -> None:
        if self.broken:
            raise RuntimeError("the access-control store is down")
        self.seen.append(event.external_id)


@pytest.fixture
def flaky_handler():
    handler = FlakyCheckinHandler()
    register_handler("ziggy", EventType.ACCESS_CHECKIN)(handler)
    yield handler
    unregister_handler("ziggy", EventType.ACCESS_CHECKIN, handler)


def test_a_crashing_handler_is_retried_then_dead_lettered_then_replayed_without_loss(
        client, tenant, settings, flaky_handler, django_capture_on_commit_callbacks):
    # given a handler that crashes, and five attempts allowed
    settings.WEBHOOK_HANDLER_MAX_ATTEMPTS = 5
    config = make_config(tenant, ZIGGY)

    # when the event arrives, it is stored and acknowledged although handling fails
    response = _post(client, ZIGGY, config, "access.checkin__court", django_capture_on_commit_callbacks)
    event = InboundEvent.objects.get()
    assert response.status_code == 200
    assert (event.status, event.attempts) == (InboundEvent.Status.RECEIVED, 1)
    assert event.next_attempt_at > timezone.now()
    assert "the access-control store is down" in event.last_error

    # and nothing runs before the retry is due
    assert inbound_events_dispatch_due() == 0

    # when time passes for each retry
    for _ in range(4):
        InboundEvent.objects.filter(pk=event.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert inbound_events_dispatch_due() == 1

    # then it is marked failed and dead-lettered
    event.refresh_from_db()
    letter = DeadLetter.objects.get(operation="webhook.handle")
    assert (event.status, event.attempts) == (InboundEvent.Status.FAILED, 5)
    assert (letter.subject_id, letter.payload) == (str(event.pk), {"inbound_event_id": str(event.pk)})
    assert flaky_handler.seen == []

    # when the fault is fixed and the dead letter replayed, the event is handled once
    flaky_handler.broken = False
    letter = dead_letter_replay(dead_letter=letter, actor="ops")

    event.refresh_from_db()
    assert letter.status == DeadLetter.Status.REPLAYED
    assert event.status == InboundEvent.Status.HANDLED
    assert flaky_handler.seen == [event.external_id]


def test_a_stored_event_whose_nudge_was_lost_is_handled_by_the_beat_sweep(
        client, tenant, settings, flaky_handler):
    # given an event stored but never enqueued (the on-commit nudge is not run here)
    flaky_handler.broken = False
    config = make_config(tenant, ZIGGY)
    signed_post(client, ZIGGY, config)
    InboundEvent.objects.update(created_at=timezone.now() - timedelta(seconds=settings.STALE_QUEUED_SECONDS + 1))

    # when beat sweeps
    swept = inbound_events_dispatch_due()

    # then it is handled
    assert swept == 1
    assert InboundEvent.objects.get().status == InboundEvent.Status.HANDLED


def test_an_event_recognised_as_our_own_echo_is_ignored(
        client, tenant, flaky_handler, django_capture_on_commit_callbacks):
    # given a checker (as sync will register) that knows session ses_8f2c4a6e1b3d was our write
    flaky_handler.broken = False

    def ours(event: InboundEvent) -> bool:
        return event.payload.get("data", {}).get("session_id") == "ses_8f2c4a6e1b3d"

    register_echo_checker(ours)
    try:
        config = make_config(tenant, ZIGGY)
        _post(client, ZIGGY, config, "access.checkin__court", django_capture_on_commit_callbacks)
    finally:
        unregister_echo_checker(ours)

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert flaky_handler.seen == []


def test_an_event_nobody_handles_is_ignored(client, tenant, django_capture_on_commit_callbacks):
    case = CASES_BY_KEY["generic"]
    config = make_config(tenant, case)
    body = json.dumps({"type": "partner.something_new", "id": "evt-1", "data": {}}).encode()

    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, case, config, body=body)

    event = InboundEvent.objects.get()
    assert (event.event_type, event.status, event.attempts) == ("unknown", InboundEvent.Status.IGNORED, 0)


def test_a_webhook_that_beats_the_submission_finds_the_payment_by_its_metadata(
        client, tenant, gateway_payment, django_capture_on_commit_callbacks):
    gateway, payment = gateway_payment
    Payment.objects.filter(pk=payment.pk).update(provider_payment_id="", status=Payment.Status.SUBMITTING)
    payload = fixture_payload(STRIPE.key, "payment_intent.succeeded__card")
    payload["data"]["object"]["metadata"] = {"hub_payment_id": str(payment.pk)}

    with django_capture_on_commit_callbacks(execute=True):
        signed_post(client, STRIPE, gateway, body=STRIPE.body(payload))

    payment.refresh_from_db()
    assert (payment.status, payment.provider_payment_id) == (Payment.Status.SUCCEEDED, INTENT)


def test_mux_webhooks_reach_a_streaming_integration_with_its_signing_key(client, tenant):
    from integrations.models import StreamingIntegration
    from integrations.secrets.services import secret_store

    mux = CASES_BY_KEY["mux"]
    key_ref = secret_store(tenant=tenant, name="mux-webhook-key", value=mux.secrets["webhook_signing_key_ref"])
    streaming = StreamingIntegration.objects.create(tenant=tenant, family="streaming", provider="mux",
                                                    display_name="Mux", status="active",
                                                    webhook_signing_key_ref=key_ref)

    accepted = signed_post(client, mux, streaming)
    refused = signed_post(client, mux, streaming, keys=mux.wrong)

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert InboundEvent.objects.filter(integration_id=streaming.pk).count() == 1
