"""The tournament reminder, end to end.

The federation's registered players get one email, one SMS and one push each (and a WhatsApp
message where they gave a number) from a single notification request; every message goes
out through its sandbox; the providers then report back through the real inbound webhook view,
each signed with its own scheme (SendGrid's ECDSA, the 46elks URL token in the delivery-report
URL the send registered, Meta's X-Hub-Signature-256); engagement, statuses, outbox events and
usage reflect the reports; and the nightly cron that posts the same request again creates
nothing new."""
import base64
import json
import time
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from communication.models import EmailMessage, PushNotification, SmsMessage, WhatsAppMessage
from integrations.models import OutboxEvent
from tests.communication.helpers_mail import active_config, elks_body, sendgrid_body
from tests.sandboxes.fixtures_push import fcm_config, store_secret, whatsapp_config
from tests.webhooks.signers import sendgrid_key_pair

PLAYERS = [  # as the tournament's registration list has them
    {"id": "SWE-1001", "name": "Anna Berg", "email": "anna@club.example", "phone": "+46701110001",
     "push_token": "fcm-anna", "push_platform": "android", "whatsapp": "+46701110001"},
    {"id": "SWE-1002", "name": "Erik Lund", "email": "erik@club.example", "phone": "+46701110002",
     "push_token": "fcm-erik", "push_platform": "ios"},
    {"id": "SWE-1003", "name": "Sara Ek", "email": "sara@club.example", "phone": "+46701110003",
     "push_token": "fcm-sara", "push_platform": "android", "whatsapp": "+46701110003"},
    {"id": "SWE-1004", "name": "Olle Ahl", "email": "olle@club.example", "phone": "+46701110004",
     "push_token": "fcm-olle", "push_platform": "web"},
]
REMINDER = {
    "idempotency_key": "club-open-2026:reminder:day-before",
    "channels": ["email", "sms", "push", "whatsapp"],
    "variables": {"tournament": "Club Open 2026", "starts": "Saturday 09:30"},
    "templates": {
        "email": {"subject": "{tournament} starts {starts}", "body_text": "Hi {name}, see you {starts}!"},
        "sms": {"body": "{tournament}: {name}, first match {starts}."},
        "push": {"title": "{tournament}", "body": "First match {starts}", "data": {"player": "{id}"}},
        "whatsapp": {"template_name": "tournament_reminder", "template_language": "sv",
                     "template_parameters": ["{name}", "{starts}"]},
    },
    "recipients": PLAYERS,
}
NOTIFICATIONS = "/api/v1/communication/notifications/"
SIGNING_KEY, PUBLIC_KEY = sendgrid_key_pair("reminder-scenario")


def _sendgrid_webhook(client, config_id, events: list[dict]):
    body = json.dumps(events).encode()
    timestamp = str(int(time.time()))
    signature = SIGNING_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return client.post(f"/webhooks/sendgrid/{config_id}/", data=body, content_type="application/json",
                       HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=base64.b64encode(signature).decode(),
                       HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=timestamp)


def _sendgrid_event(mail: dict, event: str, n: int) -> dict:
    return {"email": mail["personalizations"][0]["to"][0]["email"], "timestamp": int(time.time()) + n,
            "event": event, "sg_event_id": f"{event}-{mail['x_message_id']}-{n}",
            "sg_message_id": f"{mail['x_message_id']}.filterdrecv-5bd4b8c8f-2xk7q-1-6629F7A4-1.0",
            **mail["personalizations"][0]["custom_args"]}


@pytest.mark.django_db(transaction=True)  # sends and webhook handling run when their writes commit
def test_the_tournament_reminder_end_to_end(api, client, sendgrid_sandbox, elks_sandbox, fcm_sandbox,
                                           whatsapp_sandbox):
    # Given the tenant's providers, each validated against its sandbox and active
    sendgrid = active_config(api, "sendgrid", sendgrid_body(
        api, sendgrid_sandbox, webhook_signing_key_ref=store_secret(api, "sendgrid-events", PUBLIC_KEY)))
    elks = active_config(api, "elks", elks_body(api, elks_sandbox))
    fcm_config(api, fcm_sandbox)
    whatsapp = whatsapp_config(api, whatsapp_sandbox)

    # When the reminder is requested for every registered player
    accepted = api.post(NOTIFICATIONS, REMINDER, format="json")

    # Then one email, one SMS and one push per player (and WhatsApp where given) went out
    assert accepted.status_code == 202
    assert accepted.json()["counts"] == {"email": 4, "sms": 4, "push": 4, "whatsapp": 2}
    assert len(sendgrid_sandbox.mails) == len(elks_sandbox.sent) == len(fcm_sandbox.sent) == 4
    assert len(whatsapp_sandbox.sent) == 2
    assert {row.status for model in (EmailMessage, SmsMessage, PushNotification, WhatsAppMessage)
            for row in model.objects.all()} == {"sent"}

    # When SendGrid reports deliveries and opens (Anna opens twice, Erik once)
    mails = {mail["personalizations"][0]["to"][0]["email"]: mail for mail in sendgrid_sandbox.mails}
    events = [_sendgrid_event(mail, "delivered", 0) for mail in mails.values()]
    events += [_sendgrid_event(mails["anna@club.example"], "open", 1),
               _sendgrid_event(mails["anna@club.example"], "open", 2),
               _sendgrid_event(mails["erik@club.example"], "open", 3)]
    assert _sendgrid_webhook(client, sendgrid["id"], events).status_code == 200
    # ... 46elks reports that Sara's SMS failed, posting to the URL the send gave it
    sara_sms = next(sms for sms in elks_sandbox.sent if sms["to"] == "+46701110003")
    report_url = urlsplit(sara_sms["whendelivered"])
    assert report_url.path == f"/webhooks/elks46/{elks['id']}/"
    failed = client.post(f"{report_url.path}?{report_url.query}", data=f"id={sara_sms['id']}&status=failed",
                         content_type="application/x-www-form-urlencoded")
    assert failed.status_code == 200 and failed.content == b""
    # ... and Meta reports Anna's WhatsApp message delivered, then read
    anna_whatsapp = next(m for m in whatsapp_sandbox.sent if m["to"] == "+46701110001")
    for status in ("delivered", "read"):
        body, headers = whatsapp_sandbox.signed(whatsapp_sandbox.status_webhook(
            anna_whatsapp["id"], status, recipient=anna_whatsapp["to"]))
        response = client.post(f"/webhooks/whatsapp/{whatsapp['id']}/", data=body, content_type="application/json",
                               **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()})
        assert response.status_code == 200

    # Then engagement, statuses and the tenant's events reflect the reports
    anna_email = EmailMessage.objects.get(provider_message_id=mails["anna@club.example"]["x_message_id"])
    assert (anna_email.status, anna_email.open_count) == ("opened", 2)
    assert anna_email.first_opened_at < anna_email.last_opened_at
    sara = SmsMessage.objects.get(to="+46701110003")
    assert (sara.status, sara.error_code) == ("failed", "failed")
    anna_wa = WhatsAppMessage.objects.get(to="+46701110001")
    assert anna_wa.status == "read" and anna_wa.read_at is not None and anna_wa.delivered_at is not None
    detail = api.get(f"{NOTIFICATIONS}{accepted.json()['id']}/").json()
    assert detail["statuses"] == {"email": {"opened": 2, "delivered": 2}, "sms": {"failed": 1, "sent": 3},
                                  "push": {"sent": 4}, "whatsapp": {"read": 1, "sent": 1}}
    emitted = sorted(OutboxEvent.objects.filter(event_type__startswith="message.").values_list("event_type",
                                                                                               flat=True))
    assert emitted == ["message.delivered"] * 5 + ["message.failed", "message.read"]
    # ... and the SendGrid config's usage shows the sends and the open rate (opened / delivered)
    usage = api.get(f"/api/v1/communication/sendgrid/configs/{sendgrid['id']}/usage/").json()
    assert usage["totals"]["requests"] == 5  # the validation call and four sends
    assert usage["engagement"]["delivered"] == 4 and usage["engagement"]["opened"] == 2
    assert usage["engagement"]["opens"] == 3 and usage["engagement"]["open_rate"] == 0.5

    # When the nightly cron posts the same reminder again
    again = api.post(NOTIFICATIONS, REMINDER, format="json")

    # Then nothing new is created or sent
    assert again.status_code == 202 and again.json()["id"] == accepted.json()["id"]
    assert (EmailMessage.objects.count(), SmsMessage.objects.filter(direction="outbound").count(),
            PushNotification.objects.count(), WhatsAppMessage.objects.count()) == (4, 4, 4, 2)
    assert len(sendgrid_sandbox.mails) == len(elks_sandbox.sent) == len(fcm_sandbox.sent) == 4
