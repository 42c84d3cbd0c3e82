"""WhatsApp Cloud API: the GET handshake, X-Hub-Signature-256, and entry/changes splitting."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest

from adapters.inbound import EventType, InboundRequest, VerificationSecrets
from adapters.providers import whatsapp
from tests.adapters.providers.contract import WebhookContract, load_fixtures

APP_SECRET = "test_app_secret_6f1d8b3a9c2e4f70"  # also signed the .raw fixture
OTHER_SECRET = "test_app_secret_0000111122223333"
VERIFY_TOKEN = "verify-token-test-2e7c"
WAMID = "wamid.HBgLNDY3MDEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


class TestWhatsAppWebhooks(WebhookContract):
    provider = whatsapp
    has_timestamp = False
    signature_headers = ("X-Hub-Signature-256",)

    def secrets(self):
        return VerificationSecrets(signing_key=APP_SECRET, verify_token=VERIFY_TOKEN)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_SECRET, verify_token=VERIFY_TOKEN)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        digest = hmac.new(secrets.signing_key.encode(), body, hashlib.sha256).hexdigest()
        return self.request_for(body, {**extra_headers, "X-Hub-Signature-256": f"sha256={digest}"})

    def with_vendor_type(self, payload, vendor_type):
        value = payload["entry"][0]["changes"][0]["value"]
        statuses = [{**status, "status": vendor_type} for status in value["statuses"]]
        return {
            **payload,
            "entry": [
                {
                    **payload["entry"][0],
                    "changes": [{"field": "messages", "value": {**value, "statuses": statuses}}],
                }
            ],
        }


def _events(name):
    contract = TestWhatsAppWebhooks()
    return whatsapp.parse(
        contract.signed(next(f for f in load_fixtures("whatsapp") if f.name == name))
    )


def _handshake_request(**query):
    return InboundRequest(
        method="GET",
        url="https://hub.example.com/webhooks/whatsapp/ep/?" + urlencode(query),
        headers={},
        body=b"",
    )


def test_the_subscription_handshake_echoes_the_challenge_for_the_right_token():
    secrets = TestWhatsAppWebhooks().secrets()
    answer = whatsapp.handshake(
        _handshake_request(
            **{
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            }
        ),
        secrets,
    )
    assert answer == (
        200,
        {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"},
        b"1158201444",
    )


@pytest.mark.parametrize(
    "query, status",
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}, 403),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, 403),
        ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, 403),
        (
            {
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "<script>",
            },
            400,
        ),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": ""}, 400),
    ],
)
def test_a_wrong_handshake_is_refused_without_echoing_anything(query, status):
    code, _, body = whatsapp.handshake(
        _handshake_request(**query), TestWhatsAppWebhooks().secrets()
    )
    assert (code, body) == (status, b"")


def test_without_a_configured_verify_token_no_handshake_succeeds():
    request = _handshake_request(
        **{"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}
    )
    assert whatsapp.handshake(request, VerificationSecrets(signing_key=APP_SECRET))[0] == 403


def test_a_get_without_hub_parameters_is_not_a_handshake():
    assert whatsapp.handshake(_handshake_request(), TestWhatsAppWebhooks().secrets()) is None


def test_receipts_dedup_per_message_and_status():
    [sent] = _events("sent__template")
    assert (sent.type, sent.external_id, sent.subject_id) == (
        EventType.SENT,
        f"{WAMID}:sent",
        WAMID,
    )
    assert sent.details["phone_number_id"] == "106540352242922"
    assert sent.details["pricing_category"] == "utility"
    assert sent.occurred_at.isoformat() == "2025-12-31T23:50:01+00:00"
    [failed] = _events("failed__undeliverable")
    assert (failed.type, failed.details["error_code"], failed.details["error_title"]) == (
        EventType.FAILED,
        131026,
        "Message undeliverable",
    )


def test_every_status_in_every_entry_and_change_becomes_an_event():
    events = _events("batch__two_entries_statuses")
    assert [(event.type, event.external_id.split(":")[1]) for event in events] == [
        (EventType.DELIVERED, "delivered"),
        (EventType.READ, "read"),
        (EventType.SENT, "sent"),
    ]
    assert len({event.external_id for event in events}) == 3


def test_inbound_messages_carry_sender_text_and_reply_context():
    [text] = _events("message__text")
    assert text.type is EventType.INBOUND_MESSAGE
    assert text.external_id == "wamid.HBgLNDY3MDEyMzQ1NjcVAgASGBQzRUIwQjE5MjA1QjdDNjI0RjI1QQA="
    assert (text.details["from"], text.details["profile_name"], text.details["text"]) == (
        "46701234567",
        "Member Example",
        "Kommer ni på lördag?",
    )
    [button] = _events("message__button_reply")
    assert (button.details["button_payload"], button.details["reply_to"]) == (
        "CONFIRM_ATTENDANCE",
        WAMID,
    )


def test_other_change_fields_become_unknown_events_with_a_stable_id():
    contract = TestWhatsAppWebhooks()
    body = (
        b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":['
        b'{"field":"group_lifecycle_update","value":{"messaging_product":"whatsapp","groups":[]}}]}]}'
    )
    [first] = whatsapp.parse(contract.request_for(body))
    [again] = whatsapp.parse(contract.request_for(body.replace(b",", b", ")))
    assert (first.type, first.vendor_type) == (EventType.UNKNOWN, "group_lifecycle_update")
    assert first.external_id == again.external_id
