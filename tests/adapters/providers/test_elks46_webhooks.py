"""46elks: nothing is signed; the callback URL carries the endpoint's secret token."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from adapters.inbound import (
    EventType,
    InboundRequest,
    SignatureInvalid,
    VerificationNotConfigured,
    VerificationSecrets,
)
from adapters.providers import elks46
from tests.adapters.providers.contract import WebhookContract, load_fixtures

URL_TOKEN = "tok_test_Zk3mQ8vR1xW5pL9s"
OTHER_TOKEN = "tok_test_Aa1Bb2Cc3Dd4Ee5F"


class TestElks46Webhooks(WebhookContract):
    provider = elks46
    form_encoded = True
    has_timestamp = False
    detects_tampering = False
    bytes_are_signed = False
    url = (
        "https://hub.example.com/webhooks/{key}/6d1f0c8e-3b7a-4f53-9c8e-2f0a4b1d9e77/?token="
        + URL_TOKEN
    )

    def secrets(self):
        return VerificationSecrets(url_token=URL_TOKEN)

    def wrong_secrets(self):
        return VerificationSecrets(url_token=OTHER_TOKEN)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        url = self.endpoint_url().replace(URL_TOKEN, secrets.url_token)
        return self.request_for(body, extra_headers, url=url)

    def strip_signature(self, request):
        return replace(request, url=request.url.split("?")[0], query=None)

    def with_vendor_type(self, payload, vendor_type):
        return {key: value for key, value in payload.items() if key != "direction"} | {
            "status": vendor_type
        }


def _event(name):
    contract = TestElks46Webhooks()
    [event] = elks46.parse(
        contract.signed(next(f for f in load_fixtures("elks46") if f.name == name))
    )
    return event


def _body():
    return TestElks46Webhooks().encode(load_fixtures("elks46")[0].payload)


def test_the_token_may_be_the_last_path_segment():
    request = InboundRequest(
        method="POST",
        url=f"https://hub.example.com/webhooks/elks46/ep/{URL_TOKEN}/",
        headers={},
        body=_body(),
    )
    elks46.verify(request, VerificationSecrets(url_token=URL_TOKEN))


def test_the_token_may_be_the_basic_auth_password_46elks_sends_from_the_url():
    credentials = base64.b64encode(f"elks:{URL_TOKEN}".encode()).decode()
    request = InboundRequest(
        method="POST",
        url="https://hub.example.com/webhooks/elks46/ep/",
        headers={"Authorization": f"Basic {credentials}"},
        body=_body(),
    )
    elks46.verify(request, VerificationSecrets(url_token=URL_TOKEN))
    wrong = base64.b64encode(f"elks:{OTHER_TOKEN}".encode()).decode()
    with pytest.raises(SignatureInvalid):
        elks46.verify(
            replace(request, headers={"Authorization": f"Basic {wrong}"}),
            VerificationSecrets(url_token=URL_TOKEN),
        )


def test_an_address_allowlist_is_enforced_when_given():
    request = TestElks46Webhooks().signed(load_fixtures("elks46")[0])
    secrets = VerificationSecrets(url_token=URL_TOKEN)
    elks46.verify(request, secrets, allowed_networks=["203.0.113.0/24"])
    elks46.verify(request, secrets, allowed_networks=["198.51.100.7", "203.0.113.10"])
    for networks in ([], ["198.51.100.0/24"]):
        with pytest.raises(SignatureInvalid):
            elks46.verify(request, secrets, allowed_networks=networks)
    with pytest.raises(SignatureInvalid):
        elks46.verify(replace(request, remote_addr=None), secrets, allowed_networks=["0.0.0.0/0"])
    with pytest.raises(VerificationNotConfigured):
        elks46.verify(request, secrets, allowed_networks=["not-a-network"])


def test_delivery_reports_and_inbound_sms_are_normalised():
    delivered = _event("delivered__dlr")
    assert (delivered.type, delivered.external_id, delivered.subject_id) == (
        EventType.DELIVERED,
        "s70df59406a1b4643b96f3f91e0bfb7b0:delivered",
        "s70df59406a1b4643b96f3f91e0bfb7b0",
    )
    assert delivered.occurred_at.isoformat() == "2026-01-01T12:05:41.118000+00:00"
    assert _event("failed__dlr").type is EventType.FAILED
    assert _event("sent__dlr").external_id.endswith(":sent")
    inbound = _event("received__inbound_sms")
    assert (inbound.type, inbound.details) == (
        EventType.INBOUND_MESSAGE,
        {"from": "+46701234567", "to": "+46709876543", "text": "Jag kommer på lördag"},
    )
    assert inbound.occurred_at.isoformat() == "2026-01-01T12:10:02.741000+00:00"
