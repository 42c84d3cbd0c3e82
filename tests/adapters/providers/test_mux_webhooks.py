"""Mux: the contract (Mux-Signature t=,v1= over "<t>.<body>") and event normalisation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from adapters.inbound import EventType, InboundRequest, SignatureInvalid, VerificationSecrets
from adapters.providers import mux, stripe_webhooks
from tests.adapters.providers.contract import NOW, WebhookContract, load_fixtures

SECRET = "test_mux_signing_secret_4k9d2m7q"  # also signed the .raw fixture
OTHER_SECRET = "test_mux_signing_secret_zzzz9999"


class TestMuxWebhooks(WebhookContract):
    provider = mux
    signature_headers = ("Mux-Signature",)
    raw_now = 1767225702 + 10

    def secrets(self):
        return VerificationSecrets(signing_key=SECRET)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_SECRET)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        digest = hmac.new(
            secrets.signing_key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return self.request_for(
            body, {**extra_headers, "mux-signature": f"t={timestamp},v1={digest}"}
        )

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "type": vendor_type}


def _event(name):
    contract = TestMuxWebhooks()
    [event] = mux.parse(contract.signed(next(f for f in load_fixtures("mux") if f.name == name)))
    return event


def test_live_stream_events_name_the_stream_and_never_pass_on_its_stream_key():
    active = _event("video.live_stream.active__broadcast_started")
    assert (active.type, active.subject_id, active.external_id) == (
        EventType.LIVE_STREAM_ACTIVE,
        "QrikEQpEXp3RvklQSHyHSYOakQkXlRId",
        "6d4c1a07-3d2f-4cb0-9a1d-3e5f7b9c2d41",
    )
    assert active.details["active_asset_id"] == "Fe00MX8Mk8kCnWKs8iUkmnSJJDaHtzG4s"
    assert "stream_key" not in active.raw["data"]
    assert _event("video.live_stream.idle__broadcast_ended").type is EventType.LIVE_STREAM_IDLE


def test_asset_events_carry_playback_ids_duration_and_errors():
    ready = _event("video.asset.ready__live_recording")
    assert (ready.type, ready.subject_id) == (
        EventType.ASSET_READY,
        "Fe00MX8Mk8kCnWKs8iUkmnSJJDaHtzG4s",
    )
    assert ready.details["playback_ids"] == ["a4nOgmxGWg6gULfcBbAa00gXyfcwPnAFldF8RdsNyk8M"]
    assert (ready.details["duration"], ready.details["live_stream_id"]) == (
        7265.3,
        "QrikEQpEXp3RvklQSHyHSYOakQkXlRId",
    )
    assert ready.occurred_at.isoformat() == "2026-01-01T12:01:40+00:00"
    errored = _event("video.asset.errored__invalid_input")
    assert (errored.type, errored.details["error_type"]) == (
        EventType.ASSET_ERRORED,
        "invalid_input",
    )


def test_mux_and_stripe_headers_look_alike_but_do_not_cross_verify():
    request = TestMuxWebhooks().signed(load_fixtures("mux")[0])
    as_stripe = InboundRequest(
        method="POST",
        url=request.url,
        body=request.body,
        headers={"Stripe-Signature": request.headers["Mux-Signature"]},
    )
    with pytest.raises(SignatureInvalid):
        stripe_webhooks.verify(as_stripe, VerificationSecrets(signing_key="whsec_other"), now=NOW)
