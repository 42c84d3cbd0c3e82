"""Delivery tracking: provider webhooks posted through the real inbound view, signed with each
provider's scheme, move the messages they name forward only, count engagement, store inbound
messages, and emit message.* events to the tenant's outbox."""
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.conf import settings
from twilio.request_validator import RequestValidator

from communication.models import ElksConfig, EmailMessage, MailgunConfig, SendGridConfig, SmsMessage, TwilioConfig
from communication.models import WhatsAppConfig, WhatsAppMessage
from integrations.lifecycle import Status
from integrations.models import OutboxEvent
from integrations.secrets.services import secret_store
from tests.webhooks.signers import CASES_BY_KEY, fixture_payload, sendgrid_key_pair, signed_post
from webhooks.models import InboundEvent

SENDGRID_ID = "rT9q2XkLQ1iZb7aV3nM8pw"
KEYS = {"sendgrid": {"webhook_signing_key_ref": sendgrid_key_pair("ours")[1]},
        "mailgun": {"webhook_signing_key_ref": "key-mailgun-signing"},
        "elks46": {"webhook_url_token_ref": "elks-url-token-0123456789"},
        "twilio": {"auth_token_ref": "twilio-auth-token-123"},
        "whatsapp": {"app_secret_ref": "meta-app-secret"}}
# Where each provider's key lives on its communication config.
CONFIG_FIELDS = {"sendgrid": "webhook_signing_key_ref", "mailgun": "webhook_signing_key_ref",
                 "elks46": "webhook_token_ref", "twilio": "auth_token_ref", "whatsapp": "app_secret_ref"}
CONFIG_MODELS = {
    "sendgrid": (SendGridConfig, {"from_email": "noreply@club.example"}),
    "mailgun": (MailgunConfig, {"from_email": "noreply@mg.club.example.com", "domain": "mg.club.example.com"}),
    "elks46": (ElksConfig, {"sender_id": "Club"}),
    "twilio": (TwilioConfig, {"from_number": "+46709876543", "supported_countries": ["SE"]}),
    "whatsapp": (WhatsAppConfig, {"phone_number_id": "106540352242922", "display_phone_number": "+15550783881"}),
}


def _config(tenant, provider: str):
    model, fields = CONFIG_MODELS[provider]
    secret = next(iter(KEYS[provider].values()))
    ref = secret_store(tenant=tenant, name=f"{provider}-webhook-key", value=secret)
    return model.objects.create(tenant=tenant, family="communication", provider=provider, display_name=provider,
                                status=Status.ACTIVE, **{CONFIG_FIELDS[provider]: ref}, **fields)


def _post(client, provider: str, config, payload, django_capture_on_commit_callbacks):
    case = CASES_BY_KEY[provider]
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(client, case, config, body=case.body(payload), keys=KEYS[provider])
    assert response.status_code == 200, response.content
    return response


def _email(tenant, config, **fields) -> EmailMessage:
    return EmailMessage.objects.create(tenant=tenant, config=config, provider=config.provider, status="sent",
                                       to=[{"email": "member@example.com"}], subject="Saturday", body_text="Hi",
                                       **fields)


def _sendgrid_event(event: str, timestamp: int, **extra) -> dict:
    return {"email": "member@example.com", "timestamp": timestamp, "event": event,
            "sg_event_id": f"{event}-{timestamp}", "sg_message_id": f"{SENDGRID_ID}.filterdrecv-1-677D8A10-3F.0",
            **extra}


def _outbox(event_type: str) -> list[dict]:
    return [event.data for event in OutboxEvent.objects.filter(event_type=event_type)]


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.mark.django_db
def test_sendgrid_engagement_is_counted_and_the_status_moves_to_the_furthest_state(client, tenant, capture):
    config = _config(tenant, "sendgrid")
    message = _email(tenant, config, provider_message_id=SENDGRID_ID)

    _post(client, "sendgrid", config, [
        _sendgrid_event("processed", 1767225000), _sendgrid_event("delivered", 1767225005),
        _sendgrid_event("open", 1767228600), _sendgrid_event("open", 1767229000),
        _sendgrid_event("click", 1767229010, url="https://club.example/draw")], capture)

    message.refresh_from_db()
    assert message.status == "clicked"
    assert (message.open_count, message.click_count, message.bounce_count) == (2, 1, 0)
    assert message.delivered_at == datetime.fromtimestamp(1767225005, UTC)
    assert message.first_opened_at == datetime.fromtimestamp(1767228600, UTC)
    assert message.last_opened_at == datetime.fromtimestamp(1767229000, UTC)
    [delivered] = _outbox("message.delivered")
    assert delivered["message_id"] == str(message.pk) and delivered["kind"] == "email"
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"handled"}


@pytest.mark.django_db
def test_sendgrid_events_find_their_email_by_custom_args_when_one_request_carried_several(
    client, tenant, capture
):
    config = _config(tenant, "sendgrid")
    first = _email(tenant, config, provider_message_id=SENDGRID_ID)
    second = _email(tenant, config, provider_message_id=SENDGRID_ID)

    _post(client, "sendgrid", config, [
        _sendgrid_event("delivered", 1767225005, hub_message_id=str(second.pk)),
        _sendgrid_event("open", 1767228600, hub_message_id=str(first.pk))], capture)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.open_count, first.delivered_at) == ("opened", 1, None)
    assert (second.status, second.delivered_at) == ("delivered", datetime.fromtimestamp(1767225005, UTC))


@pytest.mark.django_db
def test_a_late_delivered_never_overwrites_opened_and_a_redelivered_open_counts_once(client, tenant, capture):
    config = _config(tenant, "sendgrid")
    message = _email(tenant, config, provider_message_id=SENDGRID_ID)
    opened = [_sendgrid_event("open", 1767228600)]

    _post(client, "sendgrid", config, opened, capture)
    _post(client, "sendgrid", config, opened, capture)  # SendGrid retried the same batch
    _post(client, "sendgrid", config, [_sendgrid_event("delivered", 1767225005)], capture)

    message.refresh_from_db()
    assert (message.status, message.open_count) == ("opened", 1)
    assert message.delivered_at == datetime.fromtimestamp(1767225005, UTC)
    assert _outbox("message.delivered") == []  # the status never moved to delivered


@pytest.mark.django_db
@pytest.mark.parametrize("fixture, bounce_type", [("bounce__blocked", "block"), ("bounce__hard", "hard")])
def test_sendgrid_bounces_record_their_kind_and_emit_message_bounced(client, tenant, capture, fixture, bounce_type):
    config = _config(tenant, "sendgrid")
    message = _email(tenant, config, provider_message_id=SENDGRID_ID)
    payload = fixture_payload("sendgrid", fixture)
    for event in payload:
        event["sg_message_id"] = f"{SENDGRID_ID}.filterdrecv-1.0"

    _post(client, "sendgrid", config, payload, capture)

    message.refresh_from_db()
    assert (message.status, message.bounce_type, message.bounce_count) == ("bounced", bounce_type, 1)
    assert message.failed_at is not None and message.error_code == "bounced"
    assert message.last_error.startswith(payload[0]["reason"])
    [bounced] = _outbox("message.bounced")
    assert bounced["message_id"] == str(message.pk)


@pytest.mark.django_db
def test_sendgrid_drops_spam_reports_and_unsubscribes(client, tenant, capture):
    config = _config(tenant, "sendgrid")
    dropped = _email(tenant, config, provider_message_id=SENDGRID_ID)
    complained = _email(tenant, config, provider_message_id="complainedMessageId01")

    _post(client, "sendgrid", config, [_sendgrid_event("dropped", 1767225001, reason="Unsubscribed Address")],
          capture)
    _post(client, "sendgrid", config, [
        _sendgrid_event("delivered", 1767225002, sg_message_id="complainedMessageId01.filter.0"),
        _sendgrid_event("spamreport", 1767225100, sg_message_id="complainedMessageId01.filter.0"),
        _sendgrid_event("unsubscribe", 1767225200, sg_message_id="complainedMessageId01.filter.0")], capture)

    dropped.refresh_from_db()
    complained.refresh_from_db()
    assert (dropped.status, dropped.last_error) == ("dropped", "Unsubscribed Address")
    assert [e["message_id"] for e in _outbox("message.failed")] == [str(dropped.pk)]
    assert (complained.status, complained.unsubscribed) == ("spam_reported", True)


@pytest.mark.django_db
@pytest.mark.parametrize("fixture, status, bounce_type", [
    ("failed__permanent_bounce", "bounced", "hard"),
    ("failed__temporary", "deferred", "soft"),
    ("failed__suppressed_bounce", "dropped", ""),
])
def test_mailgun_failures_map_to_bounced_deferred_or_dropped(client, tenant, capture, fixture, status, bounce_type):
    config = _config(tenant, "mailgun")
    payload = fixture_payload("mailgun", fixture)
    message_id = payload["event-data"]["message"]["headers"]["message-id"]
    message = _email(tenant, config, provider_message_id=message_id)

    _post(client, "mailgun", config, payload, capture)

    message.refresh_from_db()
    assert (message.status, message.bounce_type) == (status, bounce_type)


@pytest.mark.django_db
def test_mailgun_delivery_and_opens(client, tenant, capture):
    config = _config(tenant, "mailgun")
    delivered, opened = fixture_payload("mailgun", "delivered__smtp"), fixture_payload("mailgun", "opened__recipient")
    message = _email(tenant, config, provider_message_id=delivered["event-data"]["message"]["headers"]["message-id"])
    opened["event-data"]["message"]["headers"]["message-id"] = message.provider_message_id

    _post(client, "mailgun", config, delivered, capture)
    _post(client, "mailgun", config, opened, capture)

    message.refresh_from_db()
    assert (message.status, message.open_count) == ("opened", 1)
    assert message.delivered_at is not None


def _sms(tenant, config, provider_message_id: str) -> SmsMessage:
    return SmsMessage.objects.create(tenant=tenant, config=config, provider=config.provider, status="sent",
                                     to="+46701234567", body="Court 3 at 10:00",
                                     provider_message_id=provider_message_id)


@pytest.mark.django_db
def test_46elks_delivery_reports_and_inbound_sms(client, tenant, capture):
    config = _config(tenant, "elks46")
    delivered = _sms(tenant, config, "s70df59406a1b4643b96f3f91e0bfb7b0")
    failed = _sms(tenant, config, "s11111111111111111111111111111111")

    _post(client, "elks46", config, fixture_payload("elks46", "delivered__dlr"), capture)
    _post(client, "elks46", config, {"id": failed.provider_message_id, "status": "failed"}, capture)
    _post(client, "elks46", config, fixture_payload("elks46", "received__inbound_sms"), capture)

    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert (delivered.status, delivered.delivered_at is not None) == ("delivered", True)
    assert (failed.status, failed.error_code, failed.last_error) == ("failed", "failed",
                                                                     "elks46 reported the SMS failed")
    assert [e["message_id"] for e in _outbox("message.failed")] == [str(failed.pk)]
    inbound = SmsMessage.objects.get(direction="inbound")
    assert (inbound.status, inbound.from_number, inbound.to, inbound.body) == (
        "received", "+46701234567", "+46709876543", "Jag kommer på lördag")
    assert inbound.config_id == config.pk


@pytest.mark.django_db
def test_twilio_status_callbacks_and_inbound_sms(client, tenant, capture):
    config = _config(tenant, "twilio")
    delivered = _sms(tenant, config, "SMdeliveredddddddddddddddddddddddd")
    undelivered = _sms(tenant, config, "SM5c8e2a1f9b3d4c6e7f8091a2b3c4d5e6")
    for status in ("sent", "delivered"):  # the delivered callback states the price, as a debit
        _post(client, "twilio", config, fixture_payload("twilio", f"{status}__sms") | {
            "MessageSid": delivered.provider_message_id, "SmsSid": delivered.provider_message_id} | (
            {"Price": "-0.07500", "PriceUnit": "USD"} if status == "delivered" else {}), capture)

    _post(client, "twilio", config, fixture_payload("twilio", "undelivered__carrier_violation"), capture)
    _twilio_post_with_blank_fields(client, config, fixture_payload("twilio", "received__inbound_sms"), capture)

    delivered.refresh_from_db()
    undelivered.refresh_from_db()
    assert delivered.status == "delivered"
    assert (delivered.cost_amount, delivered.cost_currency) == (Decimal("0.075"), "USD")
    assert (undelivered.status, undelivered.error_code) == ("failed", "30007")
    inbound = SmsMessage.objects.get(direction="inbound")
    assert (inbound.provider, inbound.from_number, inbound.body) == ("twilio", "+46701234567",
                                                                     "JA, jag kommer på lördag")


def _twilio_post_with_blank_fields(client, config, payload: dict, capture) -> None:
    """Inbound SMS carry empty fields (ToState, FromZip), which Twilio signs too; the shared
    signer drops blank values, so this one signs the form exactly as posted."""
    path = f"/webhooks/twilio/{config.pk}/"
    signature = RequestValidator(KEYS["twilio"]["auth_token_ref"]).compute_signature(
        settings.PUBLIC_BASE_URL.rstrip("/") + path, payload)
    with capture(execute=True):
        response = client.post(path, data=urlencode(payload), content_type="application/x-www-form-urlencoded",
                               HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content


def _whatsapp_status(message_id: str, status: str, timestamp: int, **extra) -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {
            "display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": [{"id": message_id, "status": status, "timestamp": str(timestamp),
                          "recipient_id": "46701234567", **extra}]}}]}]}


@pytest.mark.django_db
def test_whatsapp_read_is_final_and_a_late_delivered_only_fills_its_time(client, tenant, capture):
    config = _config(tenant, "whatsapp")
    message = WhatsAppMessage.objects.create(tenant=tenant, config=config, provider="whatsapp", status="sent",
                                             to="+46701234567", message_type="text", body_text="Hi",
                                             provider_message_id="wamid.HBgLNDY3MDEyMzQ1NjcVAgARGBI")

    _post(client, "whatsapp", config, _whatsapp_status(message.provider_message_id, "read", 1767229000), capture)
    _post(client, "whatsapp", config, _whatsapp_status(message.provider_message_id, "delivered", 1767228000,
                                                       pricing={"billable": True, "category": "utility",
                                                                "pricing_model": "CBP"}), capture)

    message.refresh_from_db()
    assert message.status == "read"
    assert message.read_at == datetime.fromtimestamp(1767229000, UTC)
    assert message.delivered_at == datetime.fromtimestamp(1767228000, UTC)
    assert message.metadata["pricing_category"] == "utility"
    assert [e["message_id"] for e in _outbox("message.read")] == [str(message.pk)]
    assert _outbox("message.delivered") == []


@pytest.mark.django_db
def test_whatsapp_failures_and_inbound_messages(client, tenant, capture):
    config = _config(tenant, "whatsapp")
    message = WhatsAppMessage.objects.create(tenant=tenant, config=config, provider="whatsapp", status="sent",
                                             to="+46701234567", message_type="template",
                                             template_name="tournament_reminder", provider_message_id="wamid.F41L")

    _post(client, "whatsapp", config, _whatsapp_status("wamid.F41L", "failed", 1767228000, errors=[{
        "code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
        "error_data": {"details": "Message Undeliverable."}}]), capture)
    _post(client, "whatsapp", config, fixture_payload("whatsapp", "message__text"), capture)

    message.refresh_from_db()
    assert (message.status, message.error_code) == ("failed", "131026")
    assert message.last_error == "Message undeliverable; Message undeliverable; Message Undeliverable."
    [failed] = _outbox("message.failed")
    assert failed["error_code"] == "131026"
    inbound = WhatsAppMessage.objects.get(direction="inbound")
    assert (inbound.status, inbound.from_number, inbound.to, inbound.body_text) == (
        "received", "+46701234567", "+46709876543", "Kommer ni på lördag?")
    assert inbound.metadata["received"]["profile_name"] == "Member Example"


@pytest.mark.django_db
def test_a_report_about_an_unknown_message_changes_nothing_and_is_handled(client, tenant, capture):
    config = _config(tenant, "sendgrid")
    message = _email(tenant, config, provider_message_id="anotherMessageId")

    _post(client, "sendgrid", config, [_sendgrid_event("delivered", 1767225005)], capture)

    message.refresh_from_db()
    assert message.status == "sent"
    assert InboundEvent.objects.get().status == "handled"


@pytest.mark.django_db
def test_another_tenants_message_with_the_same_provider_id_is_untouched(client, tenant, other_tenant, capture):
    config = _config(tenant, "sendgrid")
    theirs = _email(other_tenant, _config(other_tenant, "sendgrid"), provider_message_id=SENDGRID_ID)

    _post(client, "sendgrid", config, [_sendgrid_event("delivered", 1767225005)], capture)

    theirs.refresh_from_db()
    assert theirs.status == "sent"


@pytest.mark.django_db
def test_email_usage_reports_engagement_and_the_open_rate(api, tenant, client, capture):
    config = _config(tenant, "sendgrid")
    for index in range(4):
        _email(tenant, config, provider_message_id=f"message{index}")
    events = [_sendgrid_event("delivered", 1767225000 + i, sg_message_id=f"message{i}.f.0", sg_event_id=f"d{i}")
              for i in range(4)]
    events += [_sendgrid_event("open", 1767226000 + n, sg_message_id=f"message{i}.f.0", sg_event_id=f"o{n}")
               for n, i in enumerate((0, 1, 1))]

    _post(client, "sendgrid", config, events, capture)
    usage = api.get(f"/api/v1/communication/sendgrid/configs/{config.pk}/usage/").json()

    assert usage["engagement"] == {
        "sent": 4, "delivered": 4, "opened": 2, "opens": 3, "clicked": 0, "clicks": 0, "bounced": 0,
        "spam_reports": 0, "unsubscribed": 0, "open_rate": 0.5, "click_rate": 0.0, "bounce_rate": 0.0}
    assert "totals" in usage and "quota" in usage


def test_tracking_handlers_are_registered_for_every_event_they_apply():
    from adapters.inbound import EventType
    from communication import handlers
    from webhooks.handlers import handlers_for

    assert handlers.email_event in handlers_for("sendgrid", EventType.OPENED)
    assert handlers.email_event in handlers_for("mailgun", EventType.BOUNCED)
    assert handlers.sms_event in handlers_for("elks46", EventType.FAILED)
    assert handlers.sms_inbound in handlers_for("twilio", EventType.INBOUND_MESSAGE)
    assert handlers.whatsapp_event in handlers_for("whatsapp", EventType.READ)
    assert handlers.whatsapp_inbound in handlers_for("whatsapp", EventType.INBOUND_MESSAGE)
