"""Fortnox change notifications as the relay posts them: Fortnox's WebSocket messages, unchanged,
signed with Standard Webhooks (checked against the `standardwebhooks` reference package)."""
from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from adapters.inbound import EventType, InboundRequest, VerificationSecrets
from adapters.providers import fortnox
from tests.adapters.providers.contract import WebhookContract, load_fixtures

SECRET = "whsec_Zm9ydG5veC1yZWxheS10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5"  # also signed the .raw fixture
OTHER_SECRET = "whsec_b3RoZXItZm9ydG5veC1yZWxheS1zZWNyZXQtMDEyMzQ1"


class TestFortnoxEvents(WebhookContract):
    provider = fortnox
    signature_headers = ("webhook-signature",)

    def secrets(self):
        return VerificationSecrets(signing_key=SECRET)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_SECRET)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        msg_id = "msg_fortnox_contract"
        signature = Webhook(secrets.signing_key).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode())
        return self.request_for(body, {**extra_headers, "webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                                       "webhook-signature": signature})

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "type": vendor_type}


def test_a_message_names_the_record_the_hub_knows_it_by():
    fixtures = {f.name: f for f in load_fixtures("fortnox")}
    contract = TestFortnoxEvents()

    invoice = fortnox.parse(contract.signed(fixtures["invoice_created_v1__websocket_message"]))[0]
    voucher = fortnox.parse(contract.signed(fixtures["voucher_updated_v1__websocket_message"]))[0]

    assert (invoice.type, invoice.subject_id, invoice.details["category"]) == (EventType.RECORD_CHANGED, "101",
                                                                               "invoice")
    assert (voucher.subject_id, voucher.details["topic"]) == ("A-106", "vouchers")
    assert invoice.external_id != voucher.external_id
