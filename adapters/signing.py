"""Webhook signature primitives, inbound and outbound.

Shared by the provider modules (verification) and by the outbound webhook sender (signing).
Every comparison is constant-time on bytes (`hmac.compare_digest` refuses non-ASCII str, so
everything is encoded first). Verification failures raise the types in `adapters.inbound`.

Standard Webhooks: https://www.standardwebhooks.com/ (spec/standard-webhooks.md):
signed content `"{webhook-id}.{webhook-timestamp}.{body}"`; `v1` is HMAC-SHA256 with the
base64 secret after `whsec_`, `v1a` is ed25519 with `whsk_`/`whpk_` keys; the
`webhook-signature` header is a space-separated list of `<version>,<base64>` entries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.inbound import SignatureInvalid, StaleTimestamp, VerificationNotConfigured

STANDARD_SECRET_PREFIX = "whsec_"
STANDARD_PRIVATE_KEY_PREFIX = "whsk_"
STANDARD_PUBLIC_KEY_PREFIX = "whpk_"
_STANDARD_SECRET_BYTES = 32  # the spec asks for 24..64 random bytes
_MAX_TIMESTAMP_DIGITS = 13  # Unix milliseconds fit; anything longer is not a timestamp


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def constant_time_equals(expected: str | bytes, given: str | bytes) -> bool:
    return hmac.compare_digest(_as_bytes(expected), _as_bytes(given))


def matches_any(expected: str | bytes, candidates: list[str] | list[bytes]) -> bool:
    """Whether any candidate equals `expected`; every candidate is compared, so the time taken
    does not tell which (or whether an earlier) one matched."""
    found = False
    for candidate in candidates:
        found |= constant_time_equals(expected, candidate)
    return found


def hmac_sha256_hex(key: str | bytes, message: bytes) -> str:
    return hmac.new(_as_bytes(key), message, hashlib.sha256).hexdigest()


def hmac_sha256_base64(key: str | bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(_as_bytes(key), message, hashlib.sha256).digest()).decode()


def hmac_sha1_hex(key: str | bytes, message: bytes) -> str:
    return hmac.new(_as_bytes(key), message, hashlib.sha1).hexdigest()


def hmac_sha1_base64(key: str | bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(_as_bytes(key), message, hashlib.sha1).digest()).decode()


def require_secret(value: str | None, what: str) -> str:
    if not value:
        raise VerificationNotConfigured(f"no {what} is configured for this endpoint")
    return value


def parse_unix_timestamp(value: str | None, *, header: str) -> int:
    """A signed timestamp header as integer seconds; cheap to reject before any crypto."""
    if (
        not value
        or not value.isascii()
        or not value.isdigit()
        or len(value) > _MAX_TIMESTAMP_DIGITS
    ):
        raise SignatureInvalid(f"{header} is missing or not a Unix timestamp")
    return int(value)


def check_freshness(timestamp: float, *, now: float | None, tolerance_seconds: int) -> None:
    """Reject a signed time further than the tolerance from now, in either direction. SDKs such
    as stripe-python and mux-node only reject old ones; we also refuse far-future ones because
    such a signature would stay replayable for longer than the window promises."""
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise StaleTimestamp(f"signed timestamp is outside the {tolerance_seconds}s window")


def parse_timestamped_signature_header(
    value: str | None, *, header: str, scheme: str = "v1"
) -> tuple[int, list[str]]:
    """`t=<unix>,v1=<hex>[,v1=<hex>...]` as used by Stripe and Mux: the timestamp and every
    signature of `scheme` (several during secret rotation; other schemes such as v0 ignored)."""
    if not value:
        raise SignatureInvalid(f"{header} header is missing")
    timestamp: str | None = None
    signatures: list[str] = []
    for item in value.split(","):
        name, separator, item_value = item.strip().partition("=")
        if not separator:
            continue
        if name == "t":
            timestamp = item_value
        elif name == scheme and item_value:
            signatures.append(item_value)
    if not signatures:
        raise SignatureInvalid(f"{header} carries no {scheme} signature")
    return parse_unix_timestamp(timestamp, header=f"{header} t"), signatures


def verify_timestamped_hmac(
    *,
    body: bytes,
    header_value: str | None,
    header: str,
    secret: str,
    now: float | None,
    tolerance_seconds: int,
) -> None:
    """Stripe/Mux: HMAC-SHA256(secret, f"{t}.{raw body}") in lowercase hex, any v1 may match."""
    timestamp, signatures = parse_timestamped_signature_header(header_value, header=header)
    check_freshness(timestamp, now=now, tolerance_seconds=tolerance_seconds)
    expected = hmac_sha256_hex(secret, f"{timestamp}.".encode() + body)
    if not matches_any(expected, [signature.lower() for signature in signatures]):
        raise SignatureInvalid(f"no {header} signature matches the body")


def verify_prefixed_hmac(
    *, body: bytes, header_value: str | None, header: str, secret: str, algorithm: str
) -> None:
    """`<algorithm>=<hex HMAC of the raw body>`: WhatsApp/Meta's X-Hub-Signature-256 (sha256)
    and the legacy GitHub-style X-Hub-Signature (sha1)."""
    if not header_value:
        raise SignatureInvalid(f"{header} header is missing")
    prefix, separator, given = header_value.partition("=")
    if not separator or prefix.strip().lower() != algorithm or not given:
        raise SignatureInvalid(f"{header} is not '{algorithm}=<hex>'")
    digest = hashlib.sha256 if algorithm == "sha256" else hashlib.sha1
    expected = hmac.new(_as_bytes(secret), body, digest).hexdigest()
    if not constant_time_equals(expected, given.strip().lower()):
        raise SignatureInvalid(f"{header} does not match the body")


# --- Standard Webhooks --------------------------------------------------------------------


def _b64decode(value: str, what: str) -> bytes:
    try:
        # Pad generously: b64decode ignores surplus padding, and some issuers drop it.
        return base64.b64decode(value + "==", validate=False)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64") from None


def _strip_prefix(value: str, prefix: str) -> str:
    return value[len(prefix) :] if value.startswith(prefix) else value


def _standard_secret_bytes(secret: str) -> bytes:
    key = _b64decode(_strip_prefix(secret, STANDARD_SECRET_PREFIX), "Standard Webhooks secret")
    if not key:
        raise ValueError("Standard Webhooks secret is empty")
    return key


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def generate_standard_webhooks_secret() -> str:
    return (
        STANDARD_SECRET_PREFIX
        + base64.b64encode(_secrets.token_bytes(_STANDARD_SECRET_BYTES)).decode()
    )


def generate_standard_webhooks_ed25519_keypair() -> tuple[str, str]:
    """(`whsk_<base64 32-byte private key>`, `whpk_<base64 32-byte public key>`)."""
    private_key = Ed25519PrivateKey.generate()
    private_raw = private_key.private_bytes_raw()
    public_raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return (
        STANDARD_PRIVATE_KEY_PREFIX + base64.b64encode(private_raw).decode(),
        STANDARD_PUBLIC_KEY_PREFIX + base64.b64encode(public_raw).decode(),
    )


def standard_webhooks_sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature for the `webhook-signature` header."""
    digest = hmac.new(
        _standard_secret_bytes(secret), _signed_content(msg_id, timestamp, body), hashlib.sha256
    ).digest()
    return "v1," + base64.b64encode(digest).decode()


def _ed25519_private_key(private_key_b64: str) -> Ed25519PrivateKey:
    raw = _b64decode(
        _strip_prefix(private_key_b64, STANDARD_PRIVATE_KEY_PREFIX), "ed25519 private key"
    )
    # 32 bytes is the raw seed; 64 is libsodium's seed||public form, whose seed comes first.
    if len(raw) not in (32, 64):
        raise ValueError("ed25519 private key must be 32 (or 64) bytes")
    return Ed25519PrivateKey.from_private_bytes(raw[:32])


def standard_webhooks_sign_ed25519(
    private_key_b64: str, msg_id: str, timestamp: int, body: bytes
) -> str:
    """The asymmetric `v1a,<base64>` signature over the same content as `v1`."""
    signature = _ed25519_private_key(private_key_b64).sign(_signed_content(msg_id, timestamp, body))
    return "v1a," + base64.b64encode(signature).decode()


def _ed25519_public_key(public_key_b64: str) -> Ed25519PublicKey:
    raw = _b64decode(
        _strip_prefix(public_key_b64, STANDARD_PUBLIC_KEY_PREFIX), "ed25519 public key"
    )
    if len(raw) != 32:
        raise ValueError("ed25519 public key must be 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def standard_webhooks_verify(
    *,
    msg_id: str | None,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    secret: str | None = None,
    public_key: str | None = None,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    """Accept when any `v1` entry matches `secret` or any `v1a` entry verifies with
    `public_key`; entries of other versions, or malformed ones, are skipped."""
    if not msg_id or not signature_header:
        raise SignatureInvalid("webhook-id and webhook-signature headers are required")
    signed_at = parse_unix_timestamp(timestamp, header="webhook-timestamp")
    if not secret and not public_key:
        raise VerificationNotConfigured("no Standard Webhooks secret or public key is configured")
    try:
        hmac_key = _standard_secret_bytes(secret) if secret else None
        verifying_key = _ed25519_public_key(public_key) if public_key else None
    except ValueError as exc:
        raise VerificationNotConfigured(f"configured key is unusable: {exc}") from None
    check_freshness(signed_at, now=now, tolerance_seconds=tolerance_seconds)

    content = _signed_content(msg_id, signed_at, body)
    expected_v1 = hmac.new(hmac_key, content, hashlib.sha256).digest() if hmac_key else None
    matched = False
    for entry in signature_header.split(" "):
        version, separator, encoded = entry.partition(",")
        if not separator or not encoded:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if version == "v1" and expected_v1 is not None:
            matched |= hmac.compare_digest(expected_v1, given)
        elif version == "v1a" and verifying_key is not None and not matched:
            try:
                verifying_key.verify(given, content)
                matched = True
            except InvalidSignature:
                pass
    if not matched:
        raise SignatureInvalid("no webhook-signature entry matches")
