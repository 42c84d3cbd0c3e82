"""Mailgun: the contract, where the "signature" lives inside the JSON body."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import pytest

from adapters.inbound import EventType, InboundRequest, SignatureInvalid, VerificationSecrets
from adapters.providers import mailgun
from tests.adapters.providers.contract import NOW, WebhookContract, load_fixtures

SIGNING_KEY = "test-signing-key-2f8a6c1e9d4b7a3f"  # also signed the .raw fixture
OTHER_KEY = "test-signing-key-0000aaaa1111bbbb"
TOKEN = "50d4f0c3a2b1e8d7c6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0"


def signature_block(key: str, timestamp: int, token: str = TOKEN) -> dict:
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(timestamp), "token": token, "signature": digest}


class TestMailgunWebhooks(WebhookContract):
    provider = mailgun
    bytes_are_signed = False  # the HMAC covers timestamp + token only, never event-data
    raw_now = 1767225010 + 60

    def secrets(self):
        return VerificationSecrets(signing_key=SIGNING_KEY)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_KEY)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        payload = json.loads(body)
        payload["signature"] = signature_block(secrets.signing_key, timestamp)
        return self.request_for(json.dumps(payload).encode(), extra_headers)

    def strip_signature(self, request):
        payload = json.loads(request.body)
        del payload["signature"]
        return replace(request, body=json.dumps(payload).encode())

    def tamper(self, request):
        # What Mailgun signs is timestamp + token; change the token.
        payload = json.loads(request.body)
        payload["signature"]["token"] = payload["signature"]["token"][::-1]
        return replace(request, body=json.dumps(payload).encode())

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "event-data": {**payload["event-data"], "event": vendor_type}}


def _event(name):
    contract = TestMailgunWebhooks()
    fixture = next(f for f in load_fixtures("mailgun") if f.name == name)
    [event] = mailgun.parse(contract.signed(fixture))
    return event


def test_event_data_is_not_covered_by_the_signature_so_only_tls_protects_it():
    # given a correctly signed delivery whose event-data an intermediary rewrote
    contract = TestMailgunWebhooks()
    request = contract.signed(load_fixtures("mailgun")[0])
    payload = json.loads(request.body)
    payload["event-data"]["recipient"] = "someone-else@example.com"
    # when verified / then it still passes: this is Mailgun's scheme, documented, not ours
    mailgun.verify(replace(request, body=json.dumps(payload).encode()), contract.secrets(), now=NOW)


def test_parent_signature_from_the_primary_account_key_is_accepted():
    contract = TestMailgunWebhooks()
    request = contract.signed(load_fixtures("mailgun")[0], secrets=contract.wrong_secrets())
    payload = json.loads(request.body)
    payload["signature"]["parent-signature"] = signature_block(SIGNING_KEY, NOW)["signature"]
    mailgun.verify(replace(request, body=json.dumps(payload).encode()), contract.secrets(), now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"signature": "x"}',
        b'{"signature": {"timestamp": "1767225600", "token": "t"}}',
        b'{"signature": {"timestamp": "soon", "token": "t", "signature": "ab"}}',
    ],
)
def test_bodies_without_a_usable_signature_block_are_refused(body):
    contract = TestMailgunWebhooks()
    with pytest.raises(SignatureInvalid):
        mailgun.verify(contract.request_for(body), contract.secrets(), now=NOW)


def test_failures_split_by_severity_and_reason():
    permanent = _event("failed__permanent_bounce")
    assert (permanent.type, permanent.details["bounce_type"], permanent.details["code"]) == (
        EventType.BOUNCED,
        "hard",
        550,
    )
    temporary = _event("failed__temporary")
    assert (temporary.type, temporary.details["bounce_type"]) == (EventType.DEFERRED, "soft")
    suppressed = _event("failed__suppressed_bounce")
    assert (suppressed.type, suppressed.details["reason"]) == (EventType.DROPPED, "suppress-bounce")


def test_delivered_event_carries_the_bare_message_id_and_its_own_id():
    delivered = _event("delivered__smtp")
    assert delivered.type is EventType.DELIVERED
    assert delivered.external_id == "CPgfbmQMTCKtHW6uIWtuVe"
    assert delivered.subject_id == "20260101000010.4f5e6d7c8b9a0123@mg.club.example.com"
    assert delivered.occurred_at.isoformat() == "2025-12-31T23:50:04.908181+00:00"
    assert delivered.details["recipient"] == "member@example.com"
    assert _event("clicked__schedule_link").details["url"] == (
        "https://club.example.com/tournaments/2026-spring/schedule"
    )
    assert _event("complained__feedback_loop").type is EventType.SPAM_REPORT
