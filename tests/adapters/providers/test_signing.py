"""adapters.signing: the shared primitives, and Standard Webhooks signing for outbound use."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook

from adapters.inbound import SignatureInvalid, StaleTimestamp, VerificationNotConfigured
from adapters.signing import (
    check_freshness,
    constant_time_equals,
    generate_standard_webhooks_ed25519_keypair,
    generate_standard_webhooks_secret,
    parse_timestamped_signature_header,
    standard_webhooks_sign,
    standard_webhooks_sign_ed25519,
    standard_webhooks_verify,
)

BODY = b'{"type":"access.checkin","timestamp":"2026-01-01T00:00:00Z","data":{}}'


def test_generated_secrets_are_whsec_base64_of_32_random_bytes_and_differ():
    first, second = generate_standard_webhooks_secret(), generate_standard_webhooks_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_a_generated_secret_signs_what_the_reference_package_verifies():
    secret = generate_standard_webhooks_secret()
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": standard_webhooks_sign(secret, "msg_1", now, BODY),
    }
    Webhook(secret).verify(BODY, headers)
    standard_webhooks_verify(
        msg_id="msg_1",
        timestamp=str(now),
        signature_header=headers["webhook-signature"],
        body=BODY,
        secret=secret,
    )


def test_the_spec_example_secret_and_signature_format():
    signature = standard_webhooks_sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_ed25519_keys_round_trip_and_accept_the_64_byte_libsodium_form():
    private_key, public_key = generate_standard_webhooks_ed25519_keypair()
    assert private_key.startswith("whsk_") and public_key.startswith("whpk_")
    seed = base64.b64decode(private_key.removeprefix("whsk_"))
    libsodium_form = base64.b64encode(
        seed + base64.b64decode(public_key.removeprefix("whpk_"))
    ).decode()
    for key in (private_key, libsodium_form):
        signature = standard_webhooks_sign_ed25519(key, "msg_1", 1767225600, BODY)
        standard_webhooks_verify(
            msg_id="msg_1",
            timestamp="1767225600",
            signature_header=signature,
            body=BODY,
            public_key=public_key,
            now=1767225600,
        )


@pytest.mark.parametrize("secret, public_key", [("whsec_", None), (None, "whpk_c2hvcnQ=")])
def test_unusable_configured_keys_are_configuration_errors(secret, public_key):
    with pytest.raises(VerificationNotConfigured):
        standard_webhooks_verify(
            msg_id="m",
            timestamp="1767225600",
            signature_header="v1,AAAA",
            body=BODY,
            secret=secret,
            public_key=public_key,
            now=1767225600,
        )


@pytest.mark.parametrize(
    "timestamp", ["", "1767225600.5", "-1", "１７６７", "12345678901234", None]
)
def test_timestamps_must_be_plain_unix_integers(timestamp):
    with pytest.raises(SignatureInvalid):
        standard_webhooks_verify(
            msg_id="m",
            timestamp=timestamp,
            signature_header="v1,AAAA",
            body=BODY,
            secret=generate_standard_webhooks_secret(),
            now=1767225600,
        )


def test_freshness_is_checked_in_both_directions_inclusive_of_the_edge():
    check_freshness(1000, now=1300, tolerance_seconds=300)
    check_freshness(1600, now=1300, tolerance_seconds=300)
    for timestamp in (999, 1601):
        with pytest.raises(StaleTimestamp):
            check_freshness(timestamp, now=1300, tolerance_seconds=300)


def test_timestamped_header_keeps_every_v1_and_ignores_other_schemes():
    assert parse_timestamped_signature_header("t=12, v1=aa,v0=bb,v1=cc", header="H") == (
        12,
        ["aa", "cc"],
    )


def test_constant_time_equals_handles_non_ascii_without_raising():
    assert constant_time_equals("påse", "påse") is True
    assert constant_time_equals("påse", "pase") is False
