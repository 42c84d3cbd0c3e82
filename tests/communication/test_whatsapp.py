"""WhatsApp Cloud API end to end against the local Graph sandbox (checked against Meta's
description): validation, template and text sends, Graph error codes, dead letters, bad
input, the lifecycle, idempotency under concurrency and tenant isolation."""
import threading

import pytest
from django.db import connection

from communication.models import DeliveryAttempt, WhatsAppMessage
from communication.services.attempts import RetryLater
from communication.services.whatsapp import whatsapp_deliver, whatsapp_send
from integrations.models import DeadLetter
from tests.sandboxes.fixtures_push import WHATSAPP_BASE, whatsapp_config
from tests.sandboxes.whatsapp import DEFAULT_PHONE_NUMBER_ID, DEFAULT_TOKEN, DEFAULT_WABA_ID

TEMPLATE = "/api/v1/communication/whatsapp/messages/template/"
TEXT = "/api/v1/communication/whatsapp/messages/text/"
LIST = "/api/v1/communication/whatsapp/messages/"
REMINDER = {"to": "+46701234567", "template_name": "tournament_reminder", "template_language": "sv",
            "template_parameters": ["Anna", "lördag 10:00"]}


@pytest.mark.django_db
def test_validation_reads_one_message_template_of_the_business_account(api, whatsapp_sandbox):
    config = whatsapp_config(api, whatsapp_sandbox, active=False)

    run = api.post(f"{WHATSAPP_BASE}/{config['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == (f"authenticated with WhatsApp Business Account {DEFAULT_WABA_ID}; "
                              "its message templates are readable")
    [request] = whatsapp_sandbox.requests
    assert (request.method, request.path, request.query) == (
        "GET", f"/v23.0/{DEFAULT_WABA_ID}/message_templates", {"limit": ["1"]})
    assert request.headers["authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert config["webhook_url"].endswith(f"/webhooks/whatsapp/{config['id']}/")


@pytest.mark.django_db
def test_validation_needs_the_business_account_and_a_token_meta_accepts(api, whatsapp_sandbox):
    without_account = whatsapp_config(api, whatsapp_sandbox, active=False, business_account_id="")
    whatsapp_sandbox.tokens.clear()  # the system user's token was revoked
    with_account = whatsapp_config(api, whatsapp_sandbox, active=False)

    missing = api.post(f"{WHATSAPP_BASE}/{without_account['id']}/validate/").json()
    revoked = api.post(f"{WHATSAPP_BASE}/{with_account['id']}/validate/").json()

    assert missing["passed"] is False
    assert missing["message"] == "business_account_id is required: validation reads the account's message templates"
    assert revoked["passed"] is False
    assert revoked["message"].startswith("WhatsApp answered: WhatsApp answered 401 (code 190)")
    assert DEFAULT_TOKEN not in revoked["message"]
    assert len(whatsapp_sandbox.requests) == 1


@pytest.mark.django_db(transaction=True)  # sends are enqueued on commit
def test_a_template_message_is_accepted_queued_then_sent_with_its_components(api, whatsapp_sandbox):
    whatsapp_config(api, whatsapp_sandbox)
    body = REMINDER | {"to": "070-123 45 67", "template_parameters": [
        "Anna", {"type": "date_time", "date_time": {"fallback_value": "lördag 10:00"}}],
        "media_url": "https://cdn.example/draw.pdf"}

    response = api.post(TEMPLATE, body, format="json")

    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["to"] == "+46701234567"
    message = WhatsAppMessage.objects.get()
    assert (message.status, message.provider, message.from_number) == ("sent", "whatsapp", "+46701740605")
    assert message.provider_message_id.startswith("wamid.")
    [sent] = whatsapp_sandbox.sent
    assert sent["to"] == "+46701234567" and sent["phone_number_id"] == DEFAULT_PHONE_NUMBER_ID
    assert sent["template"] == {
        "name": "tournament_reminder", "language": {"policy": "deterministic", "code": "sv"},
        "components": [
            {"type": "header", "parameters": [
                {"type": "document", "document": {"link": "https://cdn.example/draw.pdf"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "Anna"},
                                            {"type": "date_time", "date_time": {"fallback_value": "lördag 10:00"}}]},
        ]}
    assert sent["id"] == message.provider_message_id
    assert list(DeliveryAttempt.objects.values_list("message_kind", "outcome")) == [("whatsapp", "sent")]


@pytest.mark.django_db(transaction=True)
def test_text_messages_carry_preview_url_and_a_media_link_becomes_an_image_with_caption(api, whatsapp_sandbox):
    whatsapp_config(api, whatsapp_sandbox)

    api.post(TEXT, {"to": "+46701234567", "body_text": "Results: https://club.example/r", "preview_url": True},
             format="json")
    api.post(TEXT, {"to": "+46701234567", "body_text": "Court map", "media_url": "https://cdn.example/map.png"},
             format="json")

    text, image = whatsapp_sandbox.sent
    assert (text["type"], text["text"]) == ("text", {"body": "Results: https://club.example/r", "preview_url": True})
    assert (image["type"], image["image"]) == ("image", {"link": "https://cdn.example/map.png", "caption": "Court map"})
    assert set(WhatsAppMessage.objects.values_list("status", flat=True)) == {"sent"}
    listed = api.get(LIST, {"message_type": "text"}).json()["results"]
    assert [m["preview_url"] for m in listed] == [False, True]


@pytest.mark.django_db(transaction=True)
def test_a_graph_outage_is_retried_in_call_and_every_attempt_recorded(api, whatsapp_sandbox):
    whatsapp_config(api, whatsapp_sandbox)
    whatsapp_sandbox.fail_next(1, status=503, headers={})

    api.post(TEMPLATE, REMINDER, format="json")

    message = WhatsAppMessage.objects.get()
    assert message.status == "sent"
    assert list(DeliveryAttempt.objects.order_by("created_at").values_list("outcome", "status_code")) == [
        ("retryable_error", 503), ("sent", None)]


@pytest.mark.django_db
def test_the_throughput_limit_is_rate_limited_by_its_graph_code(api, tenant, whatsapp_sandbox):
    whatsapp_config(api, whatsapp_sandbox)
    message = whatsapp_send(tenant=tenant, to="+46701234567", message_type="text", body_text="hi")
    whatsapp_sandbox.fail_next(3, status=400, body={"error": {  # every in-call try
        "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
        "error_data": {"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."},
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}, headers={})

    with pytest.raises(RetryLater) as raised:
        whatsapp_deliver(message_id=message.pk, final_attempt=False)

    assert type(raised.value.error).__name__ == "ProviderRateLimited"
    assert raised.value.error.code == "130429"
    message.refresh_from_db()
    assert message.status == "queued"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("body, code", [
    (REMINDER | {"template_name": "no_such_template"}, "132001"),
    (REMINDER | {"template_parameters": ["Anna"]}, "132000"),
])
def test_a_template_meta_refuses_fails_at_once_without_dead_letter(api, whatsapp_sandbox, body, code):
    whatsapp_config(api, whatsapp_sandbox)

    api.post(TEMPLATE, body, format="json")

    message = WhatsAppMessage.objects.get()
    assert (message.status, message.error_code) == ("failed", code)
    assert list(DeliveryAttempt.objects.values_list("outcome", flat=True)) == ["permanent_error"]
    assert not DeadLetter.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exhausted_retries_dead_letter_the_message_and_replay_sends_it(api, whatsapp_sandbox, settings):
    settings.TASK_MAX_RETRIES = 0
    whatsapp_config(api, whatsapp_sandbox)
    whatsapp_sandbox.fail_next(3, status=500, headers={})

    api.post(TEXT, {"to": "+46701234567", "body_text": "Draw is out"}, format="json")

    message = WhatsAppMessage.objects.get()
    assert (message.status, message.error_code) == ("failed", "131000")
    letter = DeadLetter.objects.get(operation="whatsapp.send")
    assert api.post(f"/api/v1/dead-letters/{letter.pk}/replay/").json()["status"] == "replayed"
    message.refresh_from_db()
    assert message.status == "sent" and len(whatsapp_sandbox.sent) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("path, body, field", [
    (TEMPLATE, REMINDER | {"to": "+46 12"}, "to"),
    (TEMPLATE, REMINDER | {"to": "call me"}, "to"),
    (TEMPLATE, REMINDER | {"template_language": "Swedish!"}, "template_language"),
    (TEMPLATE, REMINDER | {"template_name": "Tournament Reminder"}, "template_name"),
    (TEMPLATE, REMINDER | {"template_parameters": "Anna"}, "template_parameters"),
    (TEMPLATE, REMINDER | {"template_parameters": [42]}, "template_parameters"),
    (TEMPLATE, REMINDER | {"template_parameters": [{"type": "text", "text": "a", "bold": True}]},
     "template_parameters"),
    (TEMPLATE, REMINDER | {"template_parameters": [{"type": "currency", "currency": {
        "fallback_value": "100 kr", "code": "XYZ", "amount_1000": 100000}}]}, "template_parameters"),
    (TEMPLATE, REMINDER | {"template_parameters": [{"type": "sticker"}]}, "template_parameters"),
    (TEMPLATE, REMINDER | {"template_parameters": ["line one\nline two"]}, "template_parameters"),
    (TEMPLATE, REMINDER | {"template_parameters": [{"type": "image", "image": {"link": "http://x/a.png"}}]},
     "template_parameters"),
    (TEMPLATE, REMINDER | {"media_url": "https://cdn.example/a.png", "template_parameters": [
        {"type": "image", "image": {"link": "https://cdn.example/b.png"}}]}, "template_parameters"),
    (TEMPLATE, {"to": "+46701234567"}, "template_name"),
    (TEXT, {"to": "+46701234567"}, "body_text"),
    (TEXT, {"to": "+46701234567", "body_text": "x" * 4097}, "body_text"),
    (TEXT, {"to": "+46701234567", "body_text": "x", "media_url": "ftp://cdn.example/a.png"}, "media_url"),
    (TEXT, {"to": "+46701234567", "body_text": "x", "access_token_ref": "local://stolen"}, "access_token_ref"),
])
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, whatsapp_sandbox, path, body, field):
    whatsapp_config(api, whatsapp_sandbox)

    response = api.post(path, body, format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not WhatsAppMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_paused_config_holds_messages_and_a_decommissioned_one_refuses(api, whatsapp_sandbox):
    config = whatsapp_config(api, whatsapp_sandbox)
    api.post(f"{WHATSAPP_BASE}/{config['id']}/pause/")

    held = api.post(TEXT, {"to": "+46701234567", "body_text": "Held"}, format="json")

    assert held.status_code == 202 and WhatsAppMessage.objects.get().status == "queued"
    api.post(f"{WHATSAPP_BASE}/{config['id']}/decommission/")
    refused = api.post(TEXT, {"to": "+46701234567", "body_text": "Refused", "config": config["id"]}, format="json")
    assert refused.status_code == 409
    assert whatsapp_sandbox.sent == []


@pytest.mark.django_db(transaction=True)
def test_one_key_names_one_message_across_both_endpoints(api, whatsapp_sandbox):
    whatsapp_config(api, whatsapp_sandbox)

    first = api.post(TEMPLATE, REMINDER, format="json", HTTP_IDEMPOTENCY_KEY="reminder-anna")
    again = api.post(TEMPLATE, REMINDER, format="json", HTTP_IDEMPOTENCY_KEY="reminder-anna")
    other = api.post(TEXT, {"to": "+46701234567", "body_text": "x"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="reminder-anna")

    assert first.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert len(whatsapp_sandbox.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_list_filters_and_another_tenants_message_is_a_404(api, other_api, whatsapp_sandbox):
    whatsapp_config(api, whatsapp_sandbox)
    api.post(TEMPLATE, REMINDER, format="json")
    api.post(TEXT, {"to": "+4791234567", "body_text": "Hei"}, format="json")

    to_norway = api.get(LIST, {"to": "+47 912 34 567"}).json()["results"]
    everything = api.get(LIST).json()["results"]

    assert [m["body_text"] for m in to_norway] == ["Hei"]
    assert len(everything) == 2
    detail = api.get(f"{LIST}{everything[0]['id']}/").json()
    assert [a["outcome"] for a in detail["delivery_attempts"]] == ["sent"]
    assert other_api.get(f"{LIST}{everything[0]['id']}/").status_code == 404
    assert api.get(LIST, {"to": "nobody"}).status_code == 400


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_requests_make_one_message_and_one_graph_call(api_for, tenant, whatsapp_sandbox):
    whatsapp_config(api_for(tenant), whatsapp_sandbox)
    clients = [api_for(tenant) for _ in range(20)]
    body = REMINDER | {"idempotency_key": "reminder-anna-round-2"}
    statuses, ids, start = [], [], threading.Barrier(20)

    def post(client):
        try:
            start.wait()
            response = client.post(TEMPLATE, body, format="json")
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
    assert WhatsAppMessage.objects.count() == 1
    assert len(whatsapp_sandbox.sent) == 1
