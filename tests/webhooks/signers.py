"""One case per inbound provider: a config holding test keys, a captured payload, and how the
provider signs it, using the vendor's own SDK helper where one exists (stripe-python's
signature computation, twilio's RequestValidator, the standardwebhooks package) and the
documented scheme otherwise (SendGrid's ECDSA over timestamp + body, Mailgun's HMAC of
timestamp + token, Meta's X-Hub-Signature-256, Mux, Xero, Ziggy)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

import stripe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from integrations.lifecycle import Status
from integrations.secrets.services import secret_store
from tests.factories import payment_gateway
from webhooks.models import WebhookSource

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"


@cache
def sendgrid_key_pair(name: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    private_key = ec.generate_private_key(ec.SECP256R1())
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_key, base64.b64encode(der).decode()


def fixture_payload(provider: str, name: str):
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())


@dataclass
class Signed:
    body: bytes
    headers: dict[str, str]
    query: str = ""


@dataclass(frozen=True)
class Case:
    key: str
    fixture: str
    secrets: dict[str, str]  # config ref field -> secret value
    sign: Callable[["Case", bytes, str, int, dict[str, str]], Signed]  # (body, path, ts, secrets)
    form: bool = False
    has_timestamp: bool = True
    signs_body: bool = True
    expected_events: int = 1
    wrong: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str:
        return "application/x-www-form-urlencoded" if self.form else "application/json"

    def body(self, payload=None) -> bytes:
        payload = fixture_payload(self.key, self.fixture) if payload is None else payload
        return urlencode(payload).encode() if self.form else json.dumps(payload).encode()


def _stripe(case, body, path, ts, keys):
    signature = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", keys["webhook_signing_key_ref"])
    return Signed(body, {"Stripe-Signature": f"t={ts},v1={signature}"})


def _sendgrid(case, body, path, ts, keys):
    private_key = next(pair[0] for name in ("ours", "theirs")
                       if (pair := sendgrid_key_pair(name))[1] == keys["webhook_signing_key_ref"])
    signature = private_key.sign(str(ts).encode() + body, ec.ECDSA(hashes.SHA256()))
    return Signed(body, {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                         "X-Twilio-Email-Event-Webhook-Timestamp": str(ts)})


def _mailgun(case, body, path, ts, keys):
    payload = json.loads(body)
    token = hashlib.sha256(body).hexdigest()[:50]
    digest = hmac.new(keys["webhook_signing_key_ref"].encode(), f"{ts}{token}".encode(), hashlib.sha256).hexdigest()
    payload["signature"] = {"timestamp": str(ts), "token": token, "signature": digest}
    return Signed(json.dumps(payload).encode(), {})


def _twilio(case, body, path, ts, keys):
    from urllib.parse import parse_qsl

    url = settings.PUBLIC_BASE_URL.rstrip("/") + path
    signature = RequestValidator(keys["auth_token_ref"]).compute_signature(url, dict(parse_qsl(body.decode())))
    return Signed(body, {"X-Twilio-Signature": signature})


def _elks46(case, body, path, ts, keys):
    return Signed(body, {}, query=urlencode({"token": keys["webhook_url_token_ref"]}))


def _whatsapp(case, body, path, ts, keys):
    digest = hmac.new(keys["app_secret_ref"].encode(), body, hashlib.sha256).hexdigest()
    return Signed(body, {"X-Hub-Signature-256": f"sha256={digest}"})


def _mux(case, body, path, ts, keys):
    digest = hmac.new(keys["webhook_signing_key_ref"].encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return Signed(body, {"Mux-Signature": f"t={ts},v1={digest}"})


def _xero(case, body, path, ts, keys):
    digest = hmac.new(keys["webhook_signing_key_ref"].encode(), body, hashlib.sha256).digest()
    return Signed(body, {"x-xero-signature": base64.b64encode(digest).decode()})


def _ziggy(case, body, path, ts, keys):
    digest = hmac.new(keys["webhook_signing_key_ref"].encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return Signed(body, {"X-Signature": digest, "X-Timestamp": str(ts)})


def _generic(case, body, path, ts, keys):
    msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:24]
    signature = Webhook(keys["webhook_signing_key_ref"]).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC),
                                                              body.decode())
    return Signed(body, {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature})


STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CASES = [
    Case("stripe", "payment_intent.succeeded__card", {"webhook_signing_key_ref": "whsec_test_stripe_secret"},
         _stripe, wrong={"webhook_signing_key_ref": "whsec_other"}),
    Case("sendgrid", "batch__processed_delivered_open", {"webhook_signing_key_ref": sendgrid_key_pair("ours")[1]},
         _sendgrid, expected_events=3, wrong={"webhook_signing_key_ref": sendgrid_key_pair("theirs")[1]}),
    # Mailgun signs timestamp + token only, not the event data (see adapters/providers/mailgun.py).
    Case("mailgun", "delivered__smtp", {"webhook_signing_key_ref": "key-mailgun-signing"}, _mailgun,
         signs_body=False, wrong={"webhook_signing_key_ref": "key-other"}),
    Case("twilio", "delivered__sms", {"auth_token_ref": "twilio-auth-token-123"}, _twilio, form=True,
         has_timestamp=False, wrong={"auth_token_ref": "other-token"}),
    Case("elks46", "delivered__dlr", {"webhook_url_token_ref": "elks-url-token-0123456789"}, _elks46, form=True,
         has_timestamp=False, signs_body=False, wrong={"webhook_url_token_ref": "another-token-9876543210"}),
    Case("whatsapp", "delivered__template", {"app_secret_ref": "meta-app-secret",
                                             "webhook_verify_token_ref": "verify-me-please"},
         _whatsapp, has_timestamp=False, wrong={"app_secret_ref": "other-secret"}),
    Case("mux", "video.asset.ready__live_recording", {"webhook_signing_key_ref": "mux-signing-secret"}, _mux,
         wrong={"webhook_signing_key_ref": "mux-other"}),
    Case("xero", "invoice__create_then_update", {"webhook_signing_key_ref": "xero-webhook-key"}, _xero,
         has_timestamp=False, expected_events=2, wrong={"webhook_signing_key_ref": "xero-other"}),
    Case("ziggy", "access.checkin__court", {"webhook_signing_key_ref": "ziggy-partner-secret"}, _ziggy,
         wrong={"webhook_signing_key_ref": "ziggy-other"}),
    Case("generic", "access.checkin__standard_webhooks", {"webhook_signing_key_ref": STANDARD_SECRET}, _generic,
         wrong={"webhook_signing_key_ref": "whsec_" + base64.b64encode(b"another secret of ours!!").decode()}),
]
CASES_BY_KEY = {case.key: case for case in CASES}
_SOURCE_FIELDS = {"auth_token_ref": "webhook_signing_key_ref", "app_secret_ref": "webhook_signing_key_ref"}


def make_config(tenant, case: Case, *, status: str = Status.ACTIVE, secrets: dict[str, str] | None = None):
    """A receiving config for `case` whose ref fields point at local:// secrets of `tenant`."""
    refs = {name: secret_store(tenant=tenant, name=f"{case.key}-{name}".replace("_", "-")[:100], value=value)
            for name, value in (secrets or case.secrets).items()}
    if case.key == "stripe":
        return payment_gateway(tenant, status=status, **refs)
    # Twilio's and Meta's keys live under their own names on communication configs; a
    # WebhookSource holds them in its generic signing-key field, which the table falls back to.
    refs = {_SOURCE_FIELDS.get(name, name): ref for name, ref in refs.items()}
    return WebhookSource.objects.create(tenant=tenant, family="communication", provider=case.key,
                                        display_name=f"{case.key} (test)", status=status, **refs)


def signed_post(client, case: Case, config, *, body: bytes | None = None, timestamp: int | None = None,
                keys: dict[str, str] | None = None, extra: dict | None = None):
    """POST `body` (the case's fixture by default) to the config's webhook URL, signed as the
    provider would sign it with `keys` (the config's own by default)."""
    body = case.body() if body is None else body
    path = f"/webhooks/{case.key}/{config.pk}/"
    signed_path = path
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = case.sign(case, body, signed_path, timestamp, keys or case.secrets)
    url = path + (f"?{signed.query}" if signed.query else "")
    headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signed.headers.items()}
    return client.post(url, data=signed.body, content_type=case.content_type, **headers, **(extra or {}))
