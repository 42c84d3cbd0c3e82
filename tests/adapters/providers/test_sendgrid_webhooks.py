"""SendGrid Signed Event Webhook: the contract, checked against the sendgrid SDK's own verifier.

SendGrid alone holds its private key, so the tests make their own P-256 key pair, sign with
`cryptography`, and hand the base64 DER public key to both the SDK and our verifier."""

from __future__ import annotations

import base64
from functools import cache

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from adapters.inbound import (
    EventType,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationNotConfigured,
    VerificationSecrets,
)
from adapters.providers import sendgrid
from tests.adapters.providers.contract import NOW, WebhookContract, load_fixtures, raw_fixtures

# The public half of a throwaway key that signed batch__byte_exact.raw (private half discarded).
RAW_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEk+OPsEjKbCap1IoBMZi93wqO7YbQS4qzeyyNmvvxpPfZ"
    "pLeo98mPu2cs0tIzxORoDjNBZhIRXfFctpq1HxY8jw=="
)
RAW_SIGNED_AT = 1767225610


@cache
def key_pair(name: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_key, base64.b64encode(public_der).decode()


def sign_body(body: bytes, timestamp: int, private_key) -> dict[str, str]:
    signature = private_key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        EventWebhookHeader.SIGNATURE: base64.b64encode(signature).decode(),
        EventWebhookHeader.TIMESTAMP: str(timestamp),
    }


class TestSendGridWebhooks(WebhookContract):
    provider = sendgrid
    signature_headers = (EventWebhookHeader.SIGNATURE, EventWebhookHeader.TIMESTAMP)
    raw_now = RAW_SIGNED_AT + 5

    def secrets(self):
        return VerificationSecrets(public_key=key_pair("ours")[1])

    def wrong_secrets(self):
        return VerificationSecrets(public_key=key_pair("someone else")[1])

    def raw_secrets(self):
        return VerificationSecrets(public_key=RAW_PUBLIC_KEY)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        private_key = next(
            pair[0]
            for name in ("ours", "someone else")
            if (pair := key_pair(name))[1] == secrets.public_key
        )
        return self.request_for(body, {**extra_headers, **sign_body(body, timestamp, private_key)})

    def with_vendor_type(self, payload, vendor_type):
        return [{**item, "event": vendor_type} for item in payload]


def _events(name):
    contract = TestSendGridWebhooks()
    fixture = next(f for f in load_fixtures("sendgrid") if f.name == name)
    return sendgrid.parse(contract.request_for(contract.encode(fixture.payload)))


def test_the_sendgrid_sdk_and_our_verifier_agree():
    contract = TestSendGridWebhooks()
    private_key, public_key = key_pair("ours")
    body = contract.encode(load_fixtures("sendgrid")[0].payload)
    headers = sign_body(body, NOW, private_key)
    sdk = EventWebhook(public_key)
    assert (
        sdk.verify_signature(
            body.decode(),
            headers[EventWebhookHeader.SIGNATURE],
            headers[EventWebhookHeader.TIMESTAMP],
        )
        is True
    )
    sendgrid.verify(contract.request_for(body, headers), contract.secrets(), now=NOW)
    # the timestamp is part of the signed bytes: another one fails in both
    assert (
        sdk.verify_signature(body.decode(), headers[EventWebhookHeader.SIGNATURE], str(NOW + 1))
        is False
    )
    with pytest.raises(SignatureInvalid):
        sendgrid.verify(
            contract.request_for(body, {**headers, EventWebhookHeader.TIMESTAMP: str(NOW + 1)}),
            contract.secrets(),
            now=NOW,
        )


def test_the_raw_fixture_also_verifies_with_the_sdk():
    contract = TestSendGridWebhooks()
    [(_, raw, headers)] = raw_fixtures("sendgrid")
    assert raw.endswith(b"\r\n")  # kept byte for byte: the signature covers the CRLF too
    assert EventWebhook(RAW_PUBLIC_KEY).verify_signature(
        raw.decode(), headers[EventWebhookHeader.SIGNATURE], headers[EventWebhookHeader.TIMESTAMP]
    )
    assert len(sendgrid.parse(contract.request_for(raw, headers))) == 3


@pytest.mark.parametrize(
    "public_key",
    [
        "not base64!",
        base64.b64encode(b"not a key").decode(),
        # a well-formed key on the wrong curve (P-384)
        base64.b64encode(
            ec.generate_private_key(ec.SECP384R1())
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).decode(),
    ],
)
def test_an_unusable_configured_key_is_a_configuration_error(public_key):
    contract = TestSendGridWebhooks()
    request = contract.signed(load_fixtures("sendgrid")[0])
    with pytest.raises(VerificationNotConfigured):
        sendgrid.verify(request, VerificationSecrets(public_key=public_key), now=NOW)


def test_a_batch_becomes_one_event_per_item_each_with_its_sg_event_id():
    events = _events("batch__processed_delivered_open")
    assert [(e.type, e.external_id) for e in events] == [
        (EventType.PROCESSED, "YmF0Y2gtcHJvY2Vzc2VkLTAtcjNUOXEyWGtMUTE"),
        (EventType.DELIVERED, "YmF0Y2gtZGVsaXZlcmVkLTAtcjNUOXEyWGtMUTE"),
        (EventType.OPENED, "YmF0Y2gtb3Blbi0wLXIzVDlxMlhrTFExaVpiN2E"),
    ]
    # subject_id is the X-Message-Id the send returned: sg_message_id up to the first dot
    assert {e.subject_id for e in events} == {"rT9q2XkLQ1iZb7aV3nM8pw"}


def test_bounce_kind_and_click_url_are_normalised():
    [hard] = _events("bounce__hard")
    assert (hard.type, hard.details["bounce_type"], hard.details["bounce_classification"]) == (
        EventType.BOUNCED,
        "hard",
        "Invalid Address",
    )
    assert hard.details["recipient"] == "no-such-user@example.com"
    [blocked] = _events("bounce__blocked")
    assert (blocked.type, blocked.details["bounce_type"]) == (EventType.BOUNCED, "soft")
    [click] = _events("click__schedule_link")
    assert click.details["url"] == "https://club.example.com/tournaments/2026-spring/schedule"
    [unsubscribed] = _events("group_unsubscribe__newsletter")
    assert (unsubscribed.type, unsubscribed.details["asm_group_id"]) == (
        EventType.UNSUBSCRIBED,
        10412,
    )
    assert hard.occurred_at.isoformat() == "2025-12-31T23:50:06+00:00"


def test_an_event_without_a_timestamp_is_malformed():
    contract = TestSendGridWebhooks()
    with pytest.raises(MalformedPayload):
        sendgrid.parse(contract.request_for(b'[{"event":"delivered","sg_event_id":"x"}]'))
