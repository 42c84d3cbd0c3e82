"""Outbound webhooks to a local receiver: Standard Webhooks signatures checked with the
`standardwebhooks` package (v1) and with the spec's ed25519 scheme (v1a, which the package
does not implement), rotation overlap, retries driven by time travel, 410, Retry-After,
exhaustion, notices to other endpoints, replay."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.events import event_emit
from integrations.models import OutboxEvent
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services.deliveries import deliveries_dispatch_due, outbox_fan_out

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_targets")]


def _create(api, url, **fields):
    response = api.post("/api/v1/webhooks/endpoints/", {"url": url, "event_types": ["payment.succeeded"],
                                                        **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _emit(tenant, event_type="payment.succeeded", **data):
    return event_emit(tenant_id=tenant.pk, event_type=event_type, data=data or {"payment_id": "p-1"})


def _fan_out(capture):
    with capture(execute=True):
        return outbox_fan_out()


def _time_travel_and_send(capture):
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    with capture(execute=True):
        return deliveries_dispatch_due()


def test_a_delivery_verifies_with_the_standardwebhooks_package(
        api, tenant, receiver, django_capture_on_commit_callbacks):
    # given an endpoint; its secret is shown once, on create
    created = _create(api, receiver.url)
    secret = created["verification_key"]
    detail = api.get(f"/api/v1/webhooks/endpoints/{created['id']}/").json()
    assert secret.startswith("whsec_")
    assert "verification_key" not in detail and "secret_ref" not in detail

    # when an event is emitted and fanned out
    event = _emit(tenant, amount=25000)
    assert _fan_out(django_capture_on_commit_callbacks) == 1

    # then the receiver got it once, with Standard Webhooks headers that the package accepts
    [request] = receiver.received
    assert request.headers["webhook-id"] == str(event.pk)
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {"type": "payment.succeeded", "timestamp": event.created_at.isoformat(),
                       "data": {"amount": 25000}}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    attempt = delivery.attempt_log.get()
    assert (attempt.number, attempt.status_code, attempt.response_excerpt) == (1, 200, '{"ok": true}')


def test_an_ed25519_endpoint_signs_v1a(api, tenant, receiver, django_capture_on_commit_callbacks):
    created = _create(api, receiver.url, signing_scheme="v1a")
    public_key = created["verification_key"]
    assert public_key.startswith("whpk_") and created["public_key"] == public_key

    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)

    [request] = receiver.received
    version, _, signature = request.headers["webhook-signature"].partition(",")
    signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + request.body
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    key.verify(base64.b64decode(signature), signed)  # raises when it does not verify
    assert version == "v1a"


def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new_one(
        api, tenant, receiver, django_capture_on_commit_callbacks):
    created = _create(api, receiver.url)
    old_secret = created["verification_key"]
    rotated = api.post(f"/api/v1/webhooks/endpoints/{created['id']}/rotate-secret/", {}, format="json").json()
    new_secret = rotated["verification_key"]
    assert new_secret != old_secret and rotated["previous_secret_expires_at"]

    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)
    WebhookEndpoint.objects.update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)

    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(during.body, during.headers)
    Webhook(new_secret).verify(during.body, during.headers)
    Webhook(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(after.body, after.headers)


def test_a_receiver_failing_five_times_gets_the_event_once_it_recovers(
        api, tenant, receiver, django_capture_on_commit_callbacks):
    # given a receiver that fails five times, and a second endpoint that hears of it
    failing = _create(api, receiver.url)
    watcher = _create(api, receiver.url + "/watch", event_types=["webhook_endpoint.failing",
                                                                 "webhook_endpoint.recovered"])
    receiver.answer(500, times=5)
    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(endpoint_id=failing["id"])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=3) < first_wait < timedelta(seconds=6)

    # when the schedule is driven forward (no real waiting)
    for _ in range(5):
        _time_travel_and_send(django_capture_on_commit_callbacks)

    # then the sixth attempt succeeds and the event is in the receiver's hands
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 6)
    assert [a.status_code for a in delivery.attempt_log.order_by("number")] == [500] * 5 + [200]
    to_failing = [r for r in receiver.received if r.path == "/hooks"]
    assert [json.loads(r.body)["type"] for r in to_failing] == ["payment.succeeded"] * 6
    assert len({r.headers["webhook-id"] for r in to_failing}) == 1
    # and the tenant heard of the failure and the recovery through the other endpoint, not this one
    notices = list(OutboxEvent.objects.filter(event_type__startswith="webhook_endpoint.")
                   .order_by("created_at").values_list("event_type", flat=True))
    assert notices == ["webhook_endpoint.failing", "webhook_endpoint.recovered"]
    _fan_out(django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.filter(endpoint_id=failing["id"]).count() == 1
    assert sorted(WebhookDelivery.objects.filter(endpoint_id=watcher["id"]).values_list("event_type", flat=True)) \
        == ["webhook_endpoint.failing", "webhook_endpoint.recovered"]


def test_410_gone_disables_the_endpoint_at_once(api, tenant, receiver, django_capture_on_commit_callbacks):
    gone = _create(api, receiver.url)
    receiver.answer(410)
    _emit(tenant)

    _fan_out(django_capture_on_commit_callbacks)

    endpoint = WebhookEndpoint.objects.get(pk=gone["id"])
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "the receiver answered 410 Gone")
    assert WebhookDelivery.objects.get().status == "failed"
    assert OutboxEvent.objects.filter(event_type="webhook_endpoint.disabled").count() == 1
    _emit(tenant)
    assert _fan_out(django_capture_on_commit_callbacks) == 0  # a disabled endpoint gets nothing new


def test_retry_after_on_429_is_honoured(api, tenant, receiver, django_capture_on_commit_callbacks):
    _create(api, receiver.url)
    receiver.answer(429, headers={"Retry-After": "120"})
    _emit(tenant)

    _fan_out(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=110)


def test_an_exhausted_delivery_fails_and_the_tenant_is_told(
        api, tenant, receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = [5, 300]
    _create(api, receiver.url)
    receiver.answer(503, times=10)
    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)

    _time_travel_and_send(django_capture_on_commit_callbacks)
    _time_travel_and_send(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, len(receiver.received)) == ("failed", 3, 3)
    assert OutboxEvent.objects.filter(event_type="webhook_endpoint.exhausted").count() == 1
    assert _time_travel_and_send(django_capture_on_commit_callbacks) == 0


def test_an_endpoint_failing_for_longer_than_the_limit_is_disabled(
        api, tenant, receiver, django_capture_on_commit_callbacks, settings):
    created = _create(api, receiver.url)
    receiver.answer(500, times=3)
    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)
    WebhookEndpoint.objects.update(failing_since=timezone.now() - settings.WEBHOOK_ENDPOINT_DISABLE_AFTER)

    _time_travel_and_send(django_capture_on_commit_callbacks)

    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.enabled is False
    assert endpoint.disabled_reason.startswith("no successful delivery since")


def test_redirects_are_not_followed(api, tenant, receiver, django_capture_on_commit_callbacks):
    _create(api, receiver.url)
    receiver.answer(302, headers={"Location": "http://127.0.0.1:1/elsewhere"})
    _emit(tenant)

    _fan_out(django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, len(receiver.received)) == ("pending", 302, 1)


def test_replay_of_a_delivery_and_of_all_failed_since(api, tenant, receiver, settings,
                                                      django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = []
    created = _create(api, receiver.url)
    receiver.answer(500, times=2)
    started = timezone.now() - timedelta(seconds=1)
    _emit(tenant)
    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["failed", "failed"]

    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post(f"/api/v1/webhooks/endpoints/{created['id']}/replay-failed/",
                          {"since": started.isoformat()}, format="json")

    assert queued.status_code == 202 and queued.json() == {"queued": 2}
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["succeeded", "succeeded"]
    one = WebhookDelivery.objects.first()
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(f"/api/v1/webhooks/deliveries/{one.pk}/replay/", {}, format="json")
    assert again.status_code == 202
    assert len(receiver.received) == 5
    detail = api.get(f"/api/v1/webhooks/deliveries/{one.pk}/").json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200, 200]


def test_the_test_event_goes_to_that_endpoint_only(api, tenant, receiver, django_capture_on_commit_callbacks):
    target = _create(api, receiver.url, event_types=["*"])
    _create(api, receiver.url + "/other", event_types=["*"])

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/webhooks/endpoints/{target['id']}/test/", {}, format="json")
    _fan_out(django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert [(r.path, json.loads(r.body)["type"]) for r in receiver.received] == [("/hooks", "webhook.test")]


def test_a_rate_limited_endpoint_defers_what_is_over_its_limit(
        api, tenant, receiver, django_capture_on_commit_callbacks):
    # given one delivery per second allowed, and three due at once
    _create(api, receiver.url, rate_limit_per_second=1)
    for _ in range(3):
        _emit(tenant)

    _fan_out(django_capture_on_commit_callbacks)

    # then one goes per second (two if the clock ticked over mid-way); the rest wait, unattempted
    sent = WebhookDelivery.objects.filter(status="succeeded").count()
    deferred = WebhookDelivery.objects.filter(status="pending", attempts=0, next_attempt_at__gt=timezone.now())
    assert 1 <= sent <= 2
    assert deferred.count() == 3 - sent
    assert len(receiver.received) == sent


def test_events_go_only_to_the_tenants_own_endpoints(api, other_api, tenant, receiver,
                                                     django_capture_on_commit_callbacks):
    ours = _create(api, receiver.url)
    theirs = _create(other_api, receiver.url + "/theirs")

    _emit(tenant)
    _fan_out(django_capture_on_commit_callbacks)

    assert [r.path for r in receiver.received] == ["/hooks"]
    for url in (f"/api/v1/webhooks/endpoints/{theirs['id']}/", f"/api/v1/webhooks/endpoints/{theirs['id']}/deliveries/"):
        assert api.get(url).status_code == 404
    assert api.post(f"/api/v1/webhooks/endpoints/{theirs['id']}/rotate-secret/", {}, format="json").status_code == 404
    assert other_api.get(f"/api/v1/webhooks/endpoints/{ours['id']}/").status_code == 404
