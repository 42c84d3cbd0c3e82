"""Push through FCM end to end: firebase-admin against the local FCM sandbox (its own OAuth token
endpoint), the pre-flight dry run, sends, retries, dead letters, permanent failures, bad input,
the lifecycle, idempotency under concurrency and tenant isolation."""
import json
import threading

import jwt
import pytest
from django.db import connection

from communication.models import DeliveryAttempt, PushNotification
from communication.services.push import push_deliver, push_send
from communication.services.attempts import RetryLater
from integrations.models import DeadLetter
from tests.sandboxes.fixtures_push import FCM_BASE, FCM_PROJECT, fcm_config, store_secret

SEND = "/api/v1/communication/fcm/push/"
LIST = "/api/v1/communication/push/"
DEVICE = {"target_token": "fcm-token-anna-pixel", "target_platform": "android"}


def _send(api, **body):
    return api.post(SEND, DEVICE | {"title": "Round 2", "body": "Court 3 at 10:00"} | body, format="json")


def _sends(sandbox):
    return [r for r in sandbox.requests if r.path.endswith("/messages:send")]


@pytest.mark.django_db
def test_validation_is_a_dry_run_through_firebase_admin_with_a_local_token_endpoint(api, fcm_sandbox):
    config = fcm_config(api, fcm_sandbox, active=False)

    run = api.post(f"{FCM_BASE}/{config['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == f"authenticated with Firebase project {FCM_PROJECT}; a dry-run send was accepted"
    token_request, send_request = fcm_sandbox.requests
    assert (token_request.method, token_request.path) == ("POST", "/token")
    assert token_request.params["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(token_request.params["assertion"], options={"verify_signature": False})
    assert claims["iss"] == f"firebase-adminsdk@{FCM_PROJECT}.iam.gserviceaccount.com"
    assert send_request.path == f"/v1/projects/{FCM_PROJECT}/messages:send"
    assert send_request.headers["authorization"].startswith("Bearer ya29.sandbox-")
    assert json.loads(send_request.body)["validate_only"] is True
    assert json.loads(send_request.body)["message"]["topic"] == "hub-validation"
    assert fcm_sandbox.sent == []
    assert api.get(f"{FCM_BASE}/{config['id']}/usage/").json()["totals"]["requests"] == 1


@pytest.mark.django_db
def test_validation_fails_when_google_refuses_the_service_account(api, fcm_sandbox):
    config = fcm_config(api, fcm_sandbox, active=False)
    fcm_sandbox.accounts.clear()  # the key was deleted in the Cloud console

    run = api.post(f"{FCM_BASE}/{config['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == ("Firebase Cloud Messaging answered: FCM: the OAuth token endpoint refused the "
                              "service account: invalid_grant: Invalid JWT Signature.")
    assert api.post(f"{FCM_BASE}/{config['id']}/activate/").status_code == 409


@pytest.mark.django_db
def test_a_secret_that_is_not_a_service_account_fails_validation_naming_the_ref(api, fcm_sandbox):
    ref = store_secret(api, "not-json", "AIzaSy-an-api-key-not-a-service-account")
    config = fcm_config(api, fcm_sandbox, active=False, service_account_json_ref=ref)

    run = api.post(f"{FCM_BASE}/{config['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == "service_account_json_ref: the secret is not JSON"
    assert "AIzaSy" not in run["message"]
    assert fcm_sandbox.requests == []


@pytest.mark.django_db(transaction=True)  # sends are enqueued on commit
def test_a_push_to_a_device_is_accepted_queued_then_sent_once_with_every_option(api, fcm_sandbox):
    config = fcm_config(api, fcm_sandbox)

    response = _send(api, image_url="https://cdn.example/court3.png", data={"match_id": "M-17"},
                     priority="high", ttl_seconds=3600, collapse_key="round-2", sound="default",
                     click_action="OPEN_MATCH", badge_count=2)

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    push = PushNotification.objects.get()
    assert push.status == "sent"
    assert push.config_id is not None and str(push.config_id) == config["id"]
    assert push.provider == "fcm"
    assert push.provider_message_id.startswith(f"projects/{FCM_PROJECT}/messages/0:")
    [message] = fcm_sandbox.sent
    assert message["token"] == "fcm-token-anna-pixel"
    assert message["notification"] == {"title": "Round 2", "body": "Court 3 at 10:00",
                                       "image": "https://cdn.example/court3.png"}
    assert message["data"] == {"match_id": "M-17", "hub_message_id": str(push.pk)}
    assert message["android"] == {"priority": "HIGH", "ttl": "3600s", "collapseKey": "round-2",
                                  "notification": {"clickAction": "OPEN_MATCH", "sound": "default"}}
    assert "apns" not in message and "webpush" not in message  # one Android device
    [attempt] = DeliveryAttempt.objects.filter(message_id=push.pk)
    assert (attempt.message_kind, attempt.outcome, attempt.provider) == ("push", "sent", "fcm")
    detail = api.get(f"{LIST}{push.pk}/").json()
    assert detail["status"] == "sent" and [a["outcome"] for a in detail["delivery_attempts"]] == ["sent"]


@pytest.mark.django_db(transaction=True)
def test_an_ios_push_carries_apns_badge_sound_and_the_message_id_as_collapse_id(api, fcm_sandbox):
    fcm_config(api, fcm_sandbox)

    _send(api, target_token="apns-backed-token", target_platform="ios", badge_count=5, sound="whistle.caf",
          priority="normal")

    push = PushNotification.objects.get()
    [message] = fcm_sandbox.sent
    assert message["apns"]["payload"] == {"aps": {"badge": 5, "sound": "whistle.caf"}}
    assert message["apns"]["headers"]["apns-priority"] == "5"
    assert message["apns"]["headers"]["apns-collapse-id"] == str(push.pk)
    assert "android" not in message


@pytest.mark.django_db(transaction=True)
def test_a_player_push_goes_to_the_players_topic_and_a_topic_push_to_every_platform(api, fcm_sandbox):
    fcm_config(api, fcm_sandbox)

    player = api.post(SEND, {"player_id": "SWE-1987-0042", "title": "Draw published"}, format="json")
    topic = api.post(SEND, {"topic": "/topics/club-news", "body": "Clubhouse closed today",
                            "click_action": "https://club.example/news"}, format="json")

    assert (player.status_code, topic.status_code) == (202, 202)
    to_player, to_topic = fcm_sandbox.sent
    assert to_player["topic"] == "player-SWE-1987-0042"
    assert to_topic["topic"] == "club-news"
    assert set(to_topic) >= {"android", "apns", "webpush"}
    assert to_topic["webpush"]["fcmOptions"] == {"link": "https://club.example/news"}
    assert PushNotification.objects.get(topic="club-news").status == "sent"


@pytest.mark.django_db(transaction=True)
def test_an_unavailable_fcm_is_retried_in_call_and_every_attempt_recorded(api, fcm_sandbox):
    fcm_config(api, fcm_sandbox)
    fcm_sandbox.fail_next(1, status=503)

    _send(api)

    push = PushNotification.objects.get()
    assert push.status == "sent"
    outcomes = list(DeliveryAttempt.objects.filter(message_id=push.pk).values_list("outcome", "status_code"))
    assert outcomes == [("retryable_error", 503), ("sent", None)]
    assert len(fcm_sandbox.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_exhausted_retries_fail_the_push_into_the_dead_letter_queue_then_replay_sends_it(
        api, fcm_sandbox, settings):
    settings.TASK_MAX_RETRIES = 0
    fcm_config(api, fcm_sandbox)
    fcm_sandbox.fail_next(3, status=500, headers={})  # no Retry-After: retried in-call, three tries

    _send(api)

    push = PushNotification.objects.get()
    assert (push.status, push.error_code) == ("failed", "INTERNAL")
    letter = DeadLetter.objects.get()
    assert (letter.operation, letter.subject_id) == ("push.send", str(push.pk))
    replayed = api.post(f"/api/v1/dead-letters/{letter.pk}/replay/")
    assert replayed.json()["status"] == "replayed"
    push.refresh_from_db()
    assert push.status == "sent"
    assert len(fcm_sandbox.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_an_unregistered_token_fails_at_once_without_retry_or_dead_letter(api, fcm_sandbox):
    fcm_config(api, fcm_sandbox)
    fcm_sandbox.unregistered.add("fcm-token-anna-pixel")

    _send(api)

    push = PushNotification.objects.get()
    assert (push.status, push.error_code) == ("failed", "UNREGISTERED")
    assert push.last_error == "FCM answered 404 (UNREGISTERED): Requested entity was not found."
    assert list(DeliveryAttempt.objects.values_list("outcome", flat=True)) == ["permanent_error"]
    assert not DeadLetter.objects.exists()


@pytest.mark.django_db
def test_quota_exceeded_reschedules_no_sooner_than_fcms_retry_after(api, tenant, fcm_sandbox):
    fcm_config(api, fcm_sandbox)
    push = push_send(tenant=tenant, topic="club-news", body="x")
    fcm_sandbox.fail_next(1, status=429, headers={"Retry-After": "120"})

    with pytest.raises(RetryLater) as raised:
        push_deliver(message_id=push.pk, final_attempt=False)

    assert raised.value.error.retry_after == 120.0
    assert raised.value.error.code == "QUOTA_EXCEEDED"
    push.refresh_from_db()
    assert push.status == "queued"


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"topic": "club-news"}, "target_token"),  # a device and a topic
    ({"target_token": "", "target_platform": ""}, "target_token"),  # no target
    ({"target_platform": ""}, "target_platform"),
    ({"target_platform": "blackberry"}, "target_platform"),
    ({"topic": "bad topic!", "target_token": "", "target_platform": ""}, "topic"),
    ({"data": {"count": 3}}, "data"),
    ({"data": {"nested": {"a": "b"}}}, "data"),
    ({"data": {"google.sent_time": "1"}}, "data"),
    ({"data": {"blob": "x" * 4100}}, "data"),
    ({"image_url": "http://cdn.example/x.png"}, "image_url"),
    ({"ttl_seconds": 29 * 24 * 3600}, "ttl_seconds"),
    ({"priority": "urgent"}, "priority"),
    ({"badge_count": -1}, "badge_count"),
    ({"title": "", "body": ""}, "body"),
    ({"body": "x" * 3990, "data": {"d": "y" * 300}}, "body"),  # over FCM's 4096 bytes in total
    ({"colour": "red"}, "colour"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, fcm_sandbox, body, field):
    fcm_config(api, fcm_sandbox)

    response = _send(api, **body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not PushNotification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_paused_config_holds_pushes_until_resumed_and_a_decommissioned_one_refuses(api, fcm_sandbox):
    config = fcm_config(api, fcm_sandbox)
    api.post(f"{FCM_BASE}/{config['id']}/pause/")

    held = _send(api)

    assert held.status_code == 202
    assert PushNotification.objects.get().status == "queued"
    assert fcm_sandbox.sent == []
    api.post(f"{FCM_BASE}/{config['id']}/resume/")
    from communication.tasks import messages_requeue_stale
    from django.test import override_settings

    with override_settings(STALE_QUEUED_SECONDS=0):
        messages_requeue_stale()
    assert PushNotification.objects.get().status == "sent"
    api.post(f"{FCM_BASE}/{config['id']}/decommission/")
    refused = _send(api, config=config["id"])
    assert refused.status_code == 409
    assert PushNotification.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_rotated_service_account_key_is_used_from_the_next_send(api, fcm_sandbox):
    config = fcm_config(api, fcm_sandbox)
    rotated = fcm_sandbox.service_account(project_id=FCM_PROJECT, key_label="rotated",
                                          client_email=f"rotated@{FCM_PROJECT}.iam.gserviceaccount.com")
    ref = store_secret(api, "fcm-service-account-2", rotated)
    assert api.patch(f"{FCM_BASE}/{config['id']}/", {"service_account_json_ref": ref},
                     format="json").status_code == 200

    _send(api)

    token_requests = [r for r in fcm_sandbox.requests if r.path == "/token"]
    issuer = jwt.decode(token_requests[-1].params["assertion"], options={"verify_signature": False})["iss"]
    assert issuer == f"rotated@{FCM_PROJECT}.iam.gserviceaccount.com"
    assert PushNotification.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_provider_fcm_token_url_replaces_the_accounts_token_uri(api, fcm_sandbox, monkeypatch):
    account = json.loads(fcm_sandbox.service_account(project_id=FCM_PROJECT))
    account["token_uri"] = "http://127.0.0.1:9/unreachable-token"
    ref = store_secret(api, "fcm-elsewhere", json.dumps(account))
    monkeypatch.setenv("PROVIDER_FCM_TOKEN_URL", fcm_sandbox.token_url)

    fcm_config(api, fcm_sandbox, service_account_json_ref=ref)
    _send(api)

    assert PushNotification.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_list_filters_and_another_tenants_push_is_a_404(api, other_api, fcm_sandbox):
    fcm_config(api, fcm_sandbox)
    fcm_sandbox.unregistered.add("gone-token")
    _send(api)
    _send(api, target_token="gone-token")

    failed = api.get(LIST, {"status": "failed"}).json()["results"]
    everything = api.get(LIST).json()["results"]

    assert [p["target_token"] for p in failed] == ["gone-token"]
    assert len(everything) == 2
    assert other_api.get(f"{LIST}{everything[0]['id']}/").status_code == 404
    assert other_api.get(LIST).json()["results"] == []
    assert api.get(LIST, {"status": "lost"}).status_code == 400


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_requests_make_one_push_and_one_fcm_call(api_for, tenant, fcm_sandbox):
    fcm_config(api_for(tenant), fcm_sandbox)
    clients = [api_for(tenant) for _ in range(20)]
    body = DEVICE | {"title": "Round 2", "body": "Court 3", "idempotency_key": "reminder-anna-round-2"}
    statuses, ids, start = [], [], threading.Barrier(20)

    def post(client):
        try:
            start.wait()
            response = client.post(SEND, body, format="json")
            statuses.append(response.status_code)
            if response.status_code == 202:
                ids.append(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(statuses) <= {202, 409} and 202 in statuses
    assert len(set(ids)) == 1
    assert PushNotification.objects.count() == 1
    assert len(fcm_sandbox.sent) == 1
    again = api_for(tenant).post(SEND, body, format="json")
    assert again.status_code == 202 and again.json()["id"] == ids[0]
    assert len(fcm_sandbox.sent) == 1


@pytest.mark.parametrize("status, fcm_code, error_type, code", [
    (400, None, "ProviderRejected", "INVALID_ARGUMENT"),
    (404, None, "ProviderRejected", "UNREGISTERED"),
    (403, None, "ProviderRejected", "SENDER_ID_MISMATCH"),
    (401, None, "ProviderAuthFailed", "UNAUTHENTICATED"),
    (403, "", "ProviderAuthFailed", "PERMISSION_DENIED"),
    (429, None, "ProviderRateLimited", "QUOTA_EXCEEDED"),
    (500, None, "ProviderUnavailable", "INTERNAL"),
    (503, None, "ProviderUnavailable", "UNAVAILABLE"),
])
def test_fcm_answers_are_typed_by_their_error_code(fcm_sandbox, status, fcm_code, error_type, code):
    from adapters.errors import ProviderError
    from adapters.providers import fcm

    config = fcm.Config(service_account_json=fcm_sandbox.service_account(project_id=FCM_PROJECT),
                        project_id=FCM_PROJECT, app_key="typed-errors")
    fcm.validate(config)  # fetches the access token first, so the fault lands on the send
    if status == 401:
        # google-auth answers a 401 by fetching a new token and trying again, so the refusal
        # must outlast the refresh: FCM recognises none of the tokens issued from now on.
        fcm_sandbox.access_tokens = type("Forgetful", (dict,), {"__setitem__": lambda *args: None})()
    else:
        _, headers, body = fcm_sandbox.error_response(status, "Injected.", fcm_code=fcm_code)
        fcm_sandbox.fail_next(1, status=status, body=body, headers={"Retry-After": "7"})

    with pytest.raises(ProviderError) as raised:
        fcm.send_push(config, fcm.OutboundPush(reference="r", topic="club-news", body="x"))

    assert (type(raised.value).__name__, raised.value.code, raised.value.status_code) == (error_type, code, status)
    assert raised.value.retry_after == (7.0 if raised.value.retryable else None)
