"""Stripe: the contract, plus agreement with the official SDK's own verifier."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

import pytest
import stripe

from adapters.inbound import EventType, InboundRequest, SignatureInvalid, VerificationSecrets
from adapters.providers import stripe_webhooks
from tests.adapters.providers.contract import NOW, WebhookContract, load_fixtures

SECRET = "whsec_test_5Ff0bq3Q8kT1mZ2xL7nV4cR9"  # also signed the .raw fixture
OTHER_SECRET = "whsec_test_9Qw2Er4Ty6Ui8Op0As1Df3Gh"
RAW_SIGNED_AT = 1767225013


def stripe_header(body: bytes, secret: str, timestamp: int, *extra_v1: str) -> str:
    """How stripe-python's own tests build the header (tests/test_webhook.py::generate_header)."""
    signature = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return ",".join([f"t={timestamp}", *[f"v1={v}" for v in extra_v1], f"v1={signature}"])


class TestStripeWebhooks(WebhookContract):
    provider = stripe_webhooks
    signature_headers = ("Stripe-Signature",)
    raw_now = RAW_SIGNED_AT + 30

    def secrets(self):
        return VerificationSecrets(signing_key=SECRET)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_SECRET)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        header = stripe_header(body, secrets.signing_key, timestamp)
        return self.request_for(body, {**extra_headers, "Stripe-Signature": header})

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "type": vendor_type}


def _fixture(name):
    return next(f for f in load_fixtures("stripe") if f.name == name)


def test_the_stripe_sdk_accepts_what_we_accept_and_rejects_what_we_reject():
    contract = TestStripeWebhooks()
    body = contract.encode(_fixture("payment_intent.succeeded__card").payload)
    header = stripe_header(body, SECRET, NOW)
    # given a header the SDK's verifier accepts at "now"
    event = stripe.Webhook.construct_event(body, header, SECRET, tolerance=10**10)
    # when we verify and parse the same bytes
    stripe_webhooks.verify(
        contract.request_for(body, {"Stripe-Signature": header}), contract.secrets(), now=NOW
    )
    [parsed] = stripe_webhooks.parse(contract.request_for(body))
    # then both agree on the event
    assert (parsed.external_id, parsed.vendor_type) == (event.id, event.type)
    # and a body changed by one byte is refused by both
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body + b" ", header, SECRET, tolerance=10**10)
    with pytest.raises(SignatureInvalid):
        stripe_webhooks.verify(
            contract.request_for(body + b" ", {"Stripe-Signature": header}),
            contract.secrets(),
            now=NOW,
        )


def test_any_v1_signature_matches_during_secret_rotation_and_v0_is_ignored():
    contract = TestStripeWebhooks()
    body = contract.encode(_fixture("charge.refunded__full").payload)
    old_secret_signature = stripe_header(body, OTHER_SECRET, NOW).split("v1=")[1]
    header = stripe_header(body, SECRET, NOW, old_secret_signature) + ",v0=deadbeef"
    stripe.WebhookSignature.verify_header(body, header, SECRET, tolerance=10**10)
    stripe_webhooks.verify(
        contract.request_for(body, {"stripe-signature": header}), contract.secrets(), now=NOW
    )


@pytest.mark.parametrize("header", ["t=1767225600", "v1=abc", "t=soon,v1=abc", "garbage", ""])
def test_malformed_headers_are_refused_before_any_hashing(header):
    contract = TestStripeWebhooks()
    request = contract.request_for(b"{}", {"Stripe-Signature": header})
    with pytest.raises(SignatureInvalid):
        stripe_webhooks.verify(request, contract.secrets(), now=NOW)


def test_payment_events_are_normalised():
    contract = TestStripeWebhooks()

    def parse(name):
        [event] = stripe_webhooks.parse(
            contract.request_for(contract.encode(_fixture(name).payload))
        )
        return event

    succeeded = parse("payment_intent.succeeded__card")
    assert (succeeded.type, succeeded.subject_id) == (
        EventType.PAYMENT_SUCCEEDED,
        "pi_3QfK2nLkdIwHu7ix1R4vT8sA",
    )
    assert succeeded.occurred_at.isoformat() == "2025-12-31T23:50:12+00:00"
    assert succeeded.details == {"livemode": False, "amount": 45000, "currency": "sek"}
    failed = parse("payment_intent.payment_failed__card_declined")
    assert failed.type is EventType.PAYMENT_FAILED
    assert (failed.details["error_code"], failed.details["decline_code"]) == (
        "card_declined",
        "insufficient_funds",
    )
    canceled = parse("payment_intent.canceled__abandoned")
    assert canceled.details["cancellation_reason"] == "abandoned"
    refunded = parse("charge.refunded__full")
    assert (refunded.type, refunded.subject_id) == (
        EventType.REFUNDED,
        "pi_3QfK2nLkdIwHu7ix1R4vT8sA",
    )
    assert refunded.details["charge_id"] == "ch_3QfK2nLkdIwHu7ix1lX0pQ2m"
    assert refunded.details["amount_refunded"] == 45000


def test_thin_v2_event_notification_parses_with_its_iso_time_and_related_object():
    contract = TestStripeWebhooks()
    body = (
        b'{"id":"evt_test_65R9Ijk8Ls","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered",'
        b'"created":"2026-01-01T00:00:00.000Z","related_object":{"id":"mtr_test_61R9","type":"billing.meter"}}'
    )
    [event] = stripe_webhooks.parse(contract.request_for(body))
    assert (event.type, event.subject_id) == (EventType.UNKNOWN, "mtr_test_61R9")
    assert event.occurred_at.isoformat() == "2026-01-01T00:00:00+00:00"


def test_the_timestamp_in_the_header_is_part_of_what_is_signed():
    contract = TestStripeWebhooks()
    request = contract.signed(_fixture("payment_intent.succeeded__card"))
    moved = request.headers["Stripe-Signature"].replace(f"t={NOW}", f"t={NOW - 1}")
    with pytest.raises(SignatureInvalid):
        stripe_webhooks.verify(
            replace(request, headers={"Stripe-Signature": moved}), contract.secrets(), now=NOW
        )
