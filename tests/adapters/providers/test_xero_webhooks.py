"""Xero: base64 HMAC of the body, and Intent to Receive answered as the handshake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from adapters.inbound import EventType, InboundRequest, VerificationSecrets
from adapters.providers import xero
from tests.adapters.providers.contract import WebhookContract, load_fixtures

WEBHOOK_KEY = "test_xero_webhook_key_T3mP0rArYKq8w"  # also signed the .raw fixture
OTHER_KEY = "test_xero_webhook_key_Wr0nGwR0nG00"
ITR_BODY = (
    b'{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"QWERTYUIOPASDFGHJKLZ"}'
)


def xero_signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


class TestXeroWebhooks(WebhookContract):
    provider = xero
    has_timestamp = False
    signature_headers = ("x-xero-signature",)
    empty_fixtures = frozenset({"intent_to_receive__empty"})

    def secrets(self):
        return VerificationSecrets(signing_key=WEBHOOK_KEY)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_KEY)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        return self.request_for(
            body, {**extra_headers, "X-Xero-Signature": xero_signature(secrets.signing_key, body)}
        )

    def with_vendor_type(self, payload, vendor_type):
        category, _, operation = vendor_type.rpartition(".")
        return {
            **payload,
            "events": [
                {**event, "eventCategory": category, "eventType": operation}
                for event in payload["events"]
            ],
        }


def _events(name):
    contract = TestXeroWebhooks()
    return xero.parse(contract.signed(next(f for f in load_fixtures("xero") if f.name == name)))


def test_intent_to_receive_answers_200_when_signed_and_401_when_not():
    contract = TestXeroWebhooks()
    good = contract.request_for(
        ITR_BODY, {"x-xero-signature": xero_signature(WEBHOOK_KEY, ITR_BODY)}
    )
    bad = contract.request_for(ITR_BODY, {"x-xero-signature": xero_signature(OTHER_KEY, ITR_BODY)})
    unsigned = contract.request_for(ITR_BODY)
    assert xero.handshake(good, contract.secrets()) == (200, {}, b"")
    assert xero.handshake(bad, contract.secrets()) == (401, {}, b"")
    assert xero.handshake(unsigned, contract.secrets()) == (401, {}, b"")
    assert xero.handshake(good, VerificationSecrets()) == (401, {}, b"")


def test_deliveries_with_events_or_unreadable_bodies_are_not_handshakes():
    contract = TestXeroWebhooks()
    assert xero.handshake(contract.request_for(b"not json"), contract.secrets()) is None
    assert xero.handshake(contract.request_for(b'{"events": [{}]}'), contract.secrets()) is None
    assert xero.handshake(contract.request_for(ITR_BODY, method="GET"), contract.secrets()) is None


def test_events_are_record_changes_identified_by_a_stable_digest():
    create, update = _events("invoice__create_then_update")
    assert (create.type, create.vendor_type, create.subject_id) == (
        EventType.RECORD_CHANGED,
        "INVOICE.CREATE",
        "0a8e6f52-4b0e-4c1d-9a3e-7b2f5d8c1e46",
    )
    assert create.details == {
        "category": "invoice",
        "operation": "create",
        "resource_url": "https://api.xero.com/api.xro/2.0/Invoices/0a8e6f52-4b0e-4c1d-9a3e-7b2f5d8c1e46",
        "tenant_id": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f",
        "tenant_type": "ORGANISATION",
    }
    assert create.occurred_at.isoformat() == "2026-01-01T09:15:02.112000+00:00"
    assert create.external_id != update.external_id
    assert create.external_id.startswith("sha256:") and len(create.external_id) == 71
    # the same event delivered again (another batch, other formatting) keeps its id
    [again] = xero.parse(
        TestXeroWebhooks().request_for(
            b'{"events":[' + json.dumps(create.raw, indent=4).encode() + b'],"entropy":"x",'
            b'"firstEventSequence":7,"lastEventSequence":7}'
        )
    )
    assert again.external_id == create.external_id


def test_credit_note_events_carry_type_and_status():
    create, update = _events("creditnote__create_and_update")
    assert (create.details["credit_note_type"], create.details["credit_note_status"]) == (
        "ACCRECCREDIT",
        "DRAFT",
    )
    assert update.details["credit_note_status"] == "AUTHORISED"
