"""Notifications: one request fanned out per recipient and channel through the channels' own
send services (email and SMS routed), placeholders rendered per recipient, derived message
keys so a re-run creates nothing, bad input refused whole, and the read side with statuses."""
import hashlib

import pytest

from communication.models import EmailMessage, Notification, PushNotification, SmsMessage, WhatsAppMessage
from integrations.models import IdempotencyRecord
from tests.communication.helpers_mail import active_config, elks_body, sendgrid_body, twilio_body
from tests.sandboxes.fixtures_push import fcm_config, whatsapp_config

URL = "/api/v1/communication/notifications/"
KEY = "tournament-42-reminder"
RECIPIENTS = [
    {"id": "P-1", "name": "Anna", "email": "anna@club.example", "phone": "+46701234567",
     "push_token": "token-anna", "push_platform": "android", "variables": {"court": "3"}},
    {"id": "P-2", "name": "Bjørn", "email": "bjorn@club.example", "phone": "+4791234567", "player_id": "NOR-77",
     "variables": {"court": "5"}},
    {"id": "P-3", "name": "Cecilia", "email": "cecilia@club.example", "whatsapp": "+46707654321",
     "variables": {"court": "1"}},
]
TEMPLATES = {
    "email": {"subject": "{tournament}: court {court}", "body_text": "Hi {name}, you play on court {court}."},
    "sms": {"body": "{name}: {tournament}, court {court} at {time}"},
    "push": {"title": "{tournament}", "body": "Court {court} at {time}", "data": {"court": "{court}"}},
    "whatsapp": {"template_name": "tournament_reminder", "template_language": "sv",
                 "template_parameters": ["{name}", "{time}"]},
}


@pytest.fixture
def channels_ready(api, sendgrid_sandbox, elks_sandbox, twilio_sandbox, fcm_sandbox, whatsapp_sandbox):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    active_config(api, "elks", elks_body(api, elks_sandbox))
    active_config(api, "twilio", twilio_body(api, twilio_sandbox))
    fcm_config(api, fcm_sandbox)
    whatsapp_config(api, whatsapp_sandbox)
    return {"sendgrid": sendgrid_sandbox, "elks": elks_sandbox, "twilio": twilio_sandbox, "fcm": fcm_sandbox,
            "whatsapp": whatsapp_sandbox}


def _request(**overrides) -> dict:
    return {"channels": ["email", "sms", "push", "whatsapp"], "templates": TEMPLATES, "recipients": RECIPIENTS,
            "variables": {"tournament": "Club Open", "time": "10:00"}, "idempotency_key": KEY} | overrides


def _counts() -> tuple[int, int, int, int]:
    return (EmailMessage.objects.count(), SmsMessage.objects.count(), PushNotification.objects.count(),
            WhatsAppMessage.objects.count())


@pytest.mark.django_db(transaction=True)  # deliveries are enqueued on commit
def test_one_request_fans_out_per_recipient_and_channel_with_rendered_templates(api, channels_ready):
    response = api.post(URL, _request(), format="json")

    assert response.status_code == 202
    body = response.json()
    assert (body["recipient_count"], body["message_count"]) == (3, 8)
    assert body["counts"] == {"email": 3, "sms": 2, "push": 2, "whatsapp": 1}
    assert body["skipped"] == [
        {"recipient": 0, "channel": "whatsapp", "reason": "the recipient has no whatsapp address"},
        {"recipient": 1, "channel": "whatsapp", "reason": "the recipient has no whatsapp address"},
        {"recipient": 2, "channel": "sms", "reason": "the recipient has no sms address"},
        {"recipient": 2, "channel": "push", "reason": "the recipient has no push address"}]
    anna = body["recipients"][0]
    assert (anna["id"], anna["name"], sorted(anna["messages"])) == ("P-1", "Anna", ["email", "push", "sms"])
    email = EmailMessage.objects.get(pk=anna["messages"]["email"]["id"])
    assert (email.subject, email.body_text) == ("Club Open: court 3", "Hi Anna, you play on court 3.")
    assert email.idempotency_key == "notification:" + hashlib.sha256(
        "\x1f".join((KEY, "P-1", "email")).encode()).hexdigest()
    assert email.notification_id is not None and str(email.notification_id) == body["id"]
    # SMS routed by country: Sweden through 46elks, Norway through Twilio.
    assert [sms["message"] for sms in channels_ready["elks"].sent] == ["Anna: Club Open, court 3 at 10:00"]
    assert [m["Body"] for m in channels_ready["twilio"].messages] == ["Bjørn: Club Open, court 5 at 10:00"]
    to_device, to_player = channels_ready["fcm"].sent
    assert (to_device["token"], to_device["data"]["court"]) == ("token-anna", "3")
    assert to_player["topic"] == "player-NOR-77"
    [whatsapp] = channels_ready["whatsapp"].sent
    assert whatsapp["template"]["components"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "Cecilia"}, {"type": "text", "text": "10:00"}]}]
    assert len(channels_ready["sendgrid"].mails) == 3


@pytest.mark.django_db(transaction=True)
def test_running_the_same_request_again_creates_and_sends_nothing_new(api, channels_ready):
    first = api.post(URL, _request(), format="json")
    sent_before = (len(channels_ready["sendgrid"].mails), len(channels_ready["fcm"].sent))

    again = api.post(URL, _request(), format="json")
    IdempotencyRecord.objects.all().delete()  # even with the request record gone (expired)
    third = api.post(URL, _request(), format="json")

    assert again.status_code == 202 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert third.status_code == 202 and third.json()["id"] == first.json()["id"]
    assert Notification.objects.count() == 1
    assert _counts() == (3, 2, 2, 1)
    assert (len(channels_ready["sendgrid"].mails), len(channels_ready["fcm"].sent)) == sent_before
    assert api.post(URL, _request(variables={"tournament": "Other", "time": "9"}), format="json").status_code == 422


@pytest.mark.django_db
def test_a_notification_needs_an_idempotency_key(api, channels_ready):
    body = _request()
    del body["idempotency_key"]

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"idempotency_key": ["required"]}
    assert not Notification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("overrides, field", [
    ({"templates": TEMPLATES | {"sms": {"body": "Court {court} for {nickname}"}}}, "recipients.0"),
    ({"templates": TEMPLATES | {"sms": {"body": "Court {court.number}"}}}, "templates.sms.body"),
    ({"templates": TEMPLATES | {"sms": {"body": "Court {court!r}"}}}, "templates.sms.body"),
    ({"templates": {"email": TEMPLATES["email"]}}, "templates"),
    ({"channels": ["email"], "templates": TEMPLATES}, "templates"),
    ({"channels": ["email", "email"]}, "channels"),
    ({"channels": ["fax"]}, "channels"),
    ({"recipients": [RECIPIENTS[0] | {"phone": "0701234567"}]}, "recipients"),
    ({"recipients": [RECIPIENTS[0] | {"email": "not-an-address"}]}, "recipients"),
    ({"recipients": [RECIPIENTS[0] | {"push_platform": None}]}, "recipients"),
    ({"recipients": [RECIPIENTS[0] | {"variables": {"court": {"nested": 1}}}]}, "recipients"),
    ({"recipients": []}, "recipients"),
    ({"variables": {"bad name": "x"}}, "variables"),
    ({"templates": TEMPLATES | {"whatsapp": {"template_name": "x", "body_text": "y"}}}, "templates"),
    ({"priority": "urgent"}, "priority"),
])
def test_bad_input_is_refused_whole_naming_the_field(api, channels_ready, overrides, field):
    response = api.post(URL, _request(**overrides), format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert _counts() == (0, 0, 0, 0) and not Notification.objects.exists()


@pytest.mark.django_db
def test_a_recipient_no_config_can_reach_refuses_the_whole_request(api, channels_ready):
    finland = RECIPIENTS[1] | {"phone": "+358401234567"}  # Twilio here serves SE, NO and US only

    response = api.post(URL, _request(recipients=[RECIPIENTS[0], finland]), format="json")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["recipients.1.sms"]
    assert _counts() == (0, 0, 0, 0) and not Notification.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_provider_template_gets_each_recipients_values_as_template_data(api, channels_ready):
    templates = {"email": {"subject": "Reminder", "template_id": "d-reminder",
                           "template_data": {"headline": "{tournament} on court {court}"}}}

    api.post(URL, _request(channels=["email"], templates=templates), format="json")

    anna = next(message for message in EmailMessage.objects.all() if message.to[0]["email"] == "anna@club.example")
    assert anna.template_id == "d-reminder"
    assert anna.template_data == {"tournament": "Club Open", "time": "10:00", "id": "P-1", "name": "Anna",
                                  "email": "anna@club.example", "phone": "+46701234567", "court": "3",
                                  "headline": "Club Open on court 3"}


@pytest.mark.django_db(transaction=True)
def test_list_and_detail_show_each_messages_status_and_stay_within_the_tenant(api, other_api, channels_ready):
    channels_ready["fcm"].unregistered.add("token-anna")
    created = api.post(URL, _request(), format="json").json()

    detail = api.get(f"{URL}{created['id']}/").json()
    listed = api.get(URL).json()["results"]

    anna = next(row for row in detail["recipients"] if row["id"] == "P-1")
    assert anna["messages"]["push"]["status"] == "failed"
    assert anna["messages"]["email"]["status"] == "sent"
    assert detail["statuses"]["push"] == {"failed": 1, "sent": 1}
    assert [row["id"] for row in listed] == [created["id"]]
    assert listed[0]["statuses"]["email"] == {"sent": 3}
    assert other_api.get(f"{URL}{created['id']}/").status_code == 404
    assert other_api.get(URL).json()["results"] == []
