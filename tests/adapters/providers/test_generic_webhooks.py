"""Generic partners: Standard Webhooks (checked against the `standardwebhooks` reference
package) and the legacy X-Hub-Signature HMAC-SHA1 option."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from adapters.inbound import EventType, InboundRequest, SignatureInvalid, VerificationSecrets
from adapters.providers import generic
from adapters.signing import (
    generate_standard_webhooks_ed25519_keypair,
    standard_webhooks_sign,
    standard_webhooks_sign_ed25519,
)
from tests.adapters.providers.contract import NOW, WebhookContract, load_fixtures

SECRET = "whsec_dGVzdC1zdGFuZGFyZC13ZWJob29rcy1zZWNyZXQtMzI="  # also signed the .raw fixture
OTHER_SECRET = "whsec_b3RoZXItc3RhbmRhcmQtd2ViaG9va3Mtc2VjcmV0LTMy"
MSG_ID = "msg_2qH8fZk3Lp0RsT5vW7xY9aBcDe"


def reference_headers(
    secret: str, timestamp: int, body: bytes, msg_id: str = MSG_ID
) -> dict[str, str]:
    signature = Webhook(secret).sign(
        msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode()
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


class TestStandardWebhooks(WebhookContract):
    provider = generic
    signature_headers = ("webhook-signature",)
    raw_now = 1767290284 + 1

    def secrets(self):
        return VerificationSecrets(signing_key=SECRET)

    def wrong_secrets(self):
        return VerificationSecrets(signing_key=OTHER_SECRET)

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        return self.request_for(
            body, {**extra_headers, **reference_headers(secrets.signing_key, timestamp, body)}
        )

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "type": vendor_type}


class TestLegacyHubSha1(WebhookContract):
    provider = generic.HubSha1
    fixture_dir = "generic"
    has_timestamp = False
    signature_headers = ("X-Hub-Signature",)

    def secrets(self):
        return VerificationSecrets(signing_key="partner-shared-secret-test")

    def wrong_secrets(self):
        return VerificationSecrets(signing_key="partner-shared-secret-other")

    def raw_secrets(self):
        return self.secrets()

    def sign(self, body, secrets, timestamp, extra_headers) -> InboundRequest:
        digest = hmac.new(secrets.signing_key.encode(), body, hashlib.sha1).hexdigest()
        return self.request_for(body, {**extra_headers, "X-Hub-Signature": f"sha1={digest}"})

    def with_vendor_type(self, payload, vendor_type):
        return {**payload, "type": vendor_type}

    @classmethod
    def inapplicable_checks(cls) -> dict[str, str]:
        return super().inapplicable_checks() | {
            "test_raw_fixture_verifies_byte_for_byte": "the generic .raw fixture is signed with Standard Webhooks"}


def _body():
    return TestStandardWebhooks().encode(load_fixtures("generic")[0].payload)


def test_our_outbound_signature_verifies_with_the_reference_package():
    body = _body()
    headers = {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": standard_webhooks_sign(SECRET, MSG_ID, NOW, body),
    }
    assert headers["webhook-signature"] == reference_headers(SECRET, NOW, body)["webhook-signature"]
    # the reference verifier checks against its own clock, so sign "now" for it
    current = int(time.time())
    fresh = {
        **headers,
        "webhook-timestamp": str(current),
        "webhook-signature": standard_webhooks_sign(SECRET, MSG_ID, current, body),
    }
    assert Webhook(SECRET).verify(body, fresh) == load_fixtures("generic")[0].payload


def test_any_of_several_space_separated_signatures_may_match():
    body = _body()
    headers = reference_headers(SECRET, NOW, body)
    rotated = " ".join(
        [
            standard_webhooks_sign(OTHER_SECRET, MSG_ID, NOW, body),
            "v2,bm90LW91cnM=",
            "garbage",
            headers["webhook-signature"],
        ]
    )
    generic.verify(
        TestStandardWebhooks().request_for(body, {**headers, "webhook-signature": rotated}),
        VerificationSecrets(signing_key=SECRET),
        now=NOW,
    )


def test_ed25519_v1a_signatures_verify_with_the_public_key_only():
    private_key, public_key = generate_standard_webhooks_ed25519_keypair()
    body = _body()
    signature = standard_webhooks_sign_ed25519(private_key, MSG_ID, NOW, body)
    assert signature.startswith("v1a,")
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(NOW), "webhook-signature": signature}
    contract = TestStandardWebhooks()
    generic.verify(
        contract.request_for(body, headers), VerificationSecrets(public_key=public_key), now=NOW
    )
    with pytest.raises(SignatureInvalid):
        generic.verify(
            contract.request_for(body + b" ", headers),
            VerificationSecrets(public_key=public_key),
            now=NOW,
        )
    _, someone_elses = generate_standard_webhooks_ed25519_keypair()
    with pytest.raises(SignatureInvalid):
        generic.verify(
            contract.request_for(body, headers),
            VerificationSecrets(public_key=someone_elses),
            now=NOW,
        )


def test_the_message_id_is_signed_and_is_the_event_id():
    contract = TestStandardWebhooks()
    request = contract.signed(load_fixtures("generic")[0])
    [event] = generic.parse(request)
    assert event.external_id == MSG_ID
    with pytest.raises(SignatureInvalid):
        generic.verify(
            contract.request_for(request.body, {**request.headers, "webhook-id": "msg_other"}),
            contract.secrets(),
            now=NOW,
        )


def test_partner_events_are_normalised():
    contract = TestStandardWebhooks()
    events = {f.name: generic.parse(contract.signed(f))[0] for f in load_fixtures("generic")}
    checkin = events["access.checkin__standard_webhooks"]
    assert (checkin.type, checkin.subject_id, checkin.details["court_id"]) == (
        EventType.ACCESS_CHECKIN,
        "ses_1b3d5f7a9c2e",
        "court-03",
    )
    assert checkin.occurred_at.isoformat() == "2026-01-01T17:58:03.214522+00:00"
    assert events["consumption.recorded__standard_webhooks"].type is EventType.CONSUMPTION_RECORDED


def test_legacy_sha1_requires_the_sha1_prefix():
    contract = TestLegacyHubSha1()
    request = contract.signed(load_fixtures("generic")[0])
    bare = request.headers["X-Hub-Signature"].removeprefix("sha1=")
    with pytest.raises(SignatureInvalid):
        generic.HubSha1.verify(
            contract.request_for(request.body, {"X-Hub-Signature": bare}), contract.secrets()
        )
    with pytest.raises(SignatureInvalid):
        generic.HubSha1.verify(
            contract.request_for(request.body, {"X-Hub-Signature": "sha256=" + bare}),
            contract.secrets(),
        )
