"""Twilio: the contract, with signatures computed by twilio's own RequestValidator."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode

import pytest
from twilio.request_validator import RequestValidator

from adapters.inbound import EventType, InboundRequest, SignatureInvalid, VerificationSecrets
from adapters.providers import twilio
from tests.adapters.providers.contract import WebhookContract, load_fixtures

AUTH_TOKEN = "test_auth_token_0a1b2c3d4e5f6789"  # also signed the .raw fixture
OTHER_TOKEN = "test_auth_token_ffffeeeeddddcccc"


class TestTwilioWebhooks(WebhookContract):
    provider = twilio
    form_encoded = True
    has_timestamp = False
    bytes_are_signed = False  # Twilio signs the decoded parameters, not the body bytes
    signature_headers = ("X-Twilio-Signature",)

    def secrets(self):
        return VerificationSecrets(signing_key=AUTH_TOKEN)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_TOKEN)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        params = _params(body)
        signature = RequestValidator(secrets.signing_key).compute_signature(
            self.endpoint_url(), params
        )
        return self.request_for(body, {**extra_headers, "X-Twilio-Signature": signature})

    def tamper(self, request):
        return replace(request, body=request.body.replace(b"MessageStatus=", b"MessageStatus=x"))

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "MessageStatus": vendor_type, "SmsStatus": vendor_type}


def _params(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _event(name):
    contract = TestTwilioWebhooks()
    [event] = twilio.parse(
        contract.signed(next(f for f in load_fixtures("twilio") if f.name == name))
    )
    return event


def test_a_url_with_an_explicit_default_port_still_verifies():
    contract = TestTwilioWebhooks()
    body = contract.encode(load_fixtures("twilio")[0].payload)
    signed_without_port = RequestValidator(AUTH_TOKEN).compute_signature(
        contract.endpoint_url(), _params(body)
    )
    request = contract.request_for(
        body,
        {"X-Twilio-Signature": signed_without_port},
        url=contract.endpoint_url().replace("hub.example.com", "hub.example.com:443"),
    )
    twilio.verify(request, contract.secrets())


def test_the_url_is_signed_so_another_path_or_query_fails():
    contract = TestTwilioWebhooks()
    request = contract.signed(load_fixtures("twilio")[0])
    for url in (
        contract.endpoint_url() + "?extra=1",
        contract.endpoint_url().replace("/twilio/", "/elks46/"),
    ):
        with pytest.raises(SignatureInvalid):
            twilio.verify(replace(request, url=url), contract.secrets())


def test_repeated_parameters_are_signed_like_the_sdk_signs_them():
    contract = TestTwilioWebhooks()
    pairs = [
        ("MessageSid", "SM5c8e2a1f9b3d4c6e7f8091a2b3c4d5e6"),
        ("MessageStatus", "received"),
        ("MediaUrl", "https://media.example.com/b"),
        ("MediaUrl", "https://media.example.com/a"),
    ]
    body = urlencode(pairs).encode()

    class MultiDict(dict):
        def getall(self, name):
            return [value for key, value in pairs if key == name]

    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        contract.endpoint_url(), MultiDict(pairs)
    )
    twilio.verify(contract.request_for(body, {"X-Twilio-Signature": signature}), contract.secrets())


def test_json_webhooks_are_checked_through_body_sha256_in_the_url():
    contract = TestTwilioWebhooks()
    body = b'{"MessageSid":"SM5c8e2a1f9b3d4c6e7f8091a2b3c4d5e6","MessageStatus":"delivered"}'
    url = contract.endpoint_url() + "?bodySHA256=" + hashlib.sha256(body).hexdigest()
    validator = RequestValidator(AUTH_TOKEN)
    signature = validator.compute_signature(url, {})
    assert validator.validate(url, body.decode(), signature)
    request = InboundRequest(
        method="POST",
        url=url,
        body=body,
        headers={"Content-Type": "application/json", "X-Twilio-Signature": signature},
    )
    twilio.verify(request, contract.secrets())
    with pytest.raises(SignatureInvalid):
        twilio.verify(
            replace(request, body=body.replace(b"delivered", b"failed")), contract.secrets()
        )


def test_shared_key_signatures_use_sha256_when_the_settings_header_says_so():
    contract = TestTwilioWebhooks()
    body = contract.encode(load_fixtures("twilio")[0].payload)
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        contract.endpoint_url(), _params(body), algorithm="HMAC_SHA256"
    )
    headers = {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_test,algorithm=HMAC_SHA256",
    }
    twilio.verify(contract.request_for(body, headers), contract.secrets())
    with pytest.raises(SignatureInvalid):
        twilio.verify(
            contract.request_for(
                body, {**headers, "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_MD5"}
            ),
            contract.secrets(),
        )


def test_status_callbacks_and_inbound_sms_are_normalised():
    delivered = _event("delivered__sms")
    assert (delivered.type, delivered.external_id, delivered.subject_id) == (
        EventType.DELIVERED,
        "SM5c8e2a1f9b3d4c6e7f8091a2b3c4d5e6:delivered",
        "SM5c8e2a1f9b3d4c6e7f8091a2b3c4d5e6",
    )
    assert delivered.details["carrier_done_date"] == "2601011205"
    undelivered = _event("undelivered__carrier_violation")
    assert (undelivered.type, undelivered.details["error_code"]) == (EventType.FAILED, "30007")
    assert _event("read__whatsapp").type is EventType.READ
    inbound = _event("received__inbound_sms")
    assert (inbound.type, inbound.details["text"], inbound.details["from"]) == (
        EventType.INBOUND_MESSAGE,
        "JA, jag kommer på lördag",
        "+46701234567",
    )
