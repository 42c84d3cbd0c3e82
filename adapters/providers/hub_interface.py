"""The client side of the hub's own provider REST interfaces (WADA ADAMS, insurance, registries).

Some families have no vendor API we could call: the hub publishes an interface instead, and an
outside provider implements it. The documents are docs/provider-interfaces/*.openapi.json
(OpenAPI 3.1). Every interface shares these rules, implemented once here:

- `Authorization: Bearer <api key or OAuth access token>` on every request.
- Requests are signed when the integration holds signing material. The signed content is
  `<unix timestamp>.` followed by the exact body bytes (empty for a GET), and the timestamp is
  sent as `X-Hub-Timestamp`, so a captured request cannot be replayed later; providers should
  refuse timestamps more than five minutes away from their clock.
  - an HMAC key (WADA ADAMS `signing_key_ref`): `X-Hub-Signature: sha256=<hex HMAC-SHA256>`;
  - a signing certificate (registries `signing_certificate_ref`, PEM certificate and private
    key): `X-Hub-Signature: rsa-sha256=<base64 PKCS#1 v1.5>` or `ecdsa-sha256=<base64 DER>`,
    plus `X-Hub-Certificate-SHA256: <hex SHA-256 of the certificate's DER>` naming the
    certificate the provider registered for the federation.
- Errors are application/problem+json; ProviderHttpClient maps their statuses to typed errors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from adapters.errors import ProviderRejected
from adapters.http import ProviderHttpClient

SIGNATURE_HEADER = "X-Hub-Signature"
TIMESTAMP_HEADER = "X-Hub-Timestamp"
CERTIFICATE_HEADER = "X-Hub-Certificate-SHA256"


class SigningMaterialInvalid(ValueError):
    """The configured signing certificate or key cannot be used; the message names the problem."""


@dataclass(frozen=True)
class CertificateSigner:
    """A private key and its certificate, loaded from one PEM text."""

    certificate: x509.Certificate
    private_key: Any

    @classmethod
    def from_pem(cls, pem: str) -> CertificateSigner:
        data = pem.encode()
        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise SigningMaterialInvalid(
                "the signing certificate PEM holds no readable certificate"
            ) from None
        try:
            private_key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise SigningMaterialInvalid(
                "the signing certificate PEM holds no readable, unencrypted private key"
            ) from None
        if not isinstance(private_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise SigningMaterialInvalid("the signing key must be RSA or ECDSA")
        if private_key.public_key().public_numbers() != certificate.public_key().public_numbers():
            raise SigningMaterialInvalid(
                "the private key does not belong to the signing certificate"
            )
        now = datetime.now(UTC)
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            valid_from, valid_to = certificate.not_valid_before_utc, certificate.not_valid_after_utc
            raise SigningMaterialInvalid(
                f"the signing certificate is not valid now "
                f"(valid {valid_from:%Y-%m-%d} to {valid_to:%Y-%m-%d})"
            )
        return cls(certificate=certificate, private_key=private_key)

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    def sign(self, message: bytes) -> str:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            signature = self.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            return "rsa-sha256=" + base64.b64encode(signature).decode()
        signature = self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))
        return "ecdsa-sha256=" + base64.b64encode(signature).decode()


@dataclass(frozen=True)
class InterfaceEndpoint:
    """Where and how to reach one provider implementing a hub interface."""

    provider: str
    base_url: str
    bearer_token: str = field(repr=False)  # a secret
    hmac_key: str = field(repr=False, default="")  # a secret
    signer: CertificateSigner | None = None
    timeout_seconds: float = 10.0


def signed_headers(
    endpoint: InterfaceEndpoint, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {endpoint.bearer_token}", "Accept": "application/json"}
    if body:
        headers["Content-Type"] = "application/json"
    if not endpoint.hmac_key and endpoint.signer is None:
        return headers
    timestamp = str(int(time.time() if now is None else now))
    message = f"{timestamp}.".encode() + body
    headers[TIMESTAMP_HEADER] = timestamp
    if endpoint.hmac_key:
        digest = hmac.new(endpoint.hmac_key.encode(), message, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    else:
        headers[SIGNATURE_HEADER] = endpoint.signer.sign(message)
        headers[CERTIFICATE_HEADER] = endpoint.signer.fingerprint
    return headers


def interface_call(
    endpoint: InterfaceEndpoint,
    method: str,
    path: str,
    *,
    payload: dict | None = None,
    params: dict | None = None,
) -> dict:
    """One signed request; the JSON object answered, or a typed ProviderError."""
    # Serialised here, not by httpx, because the signature covers these exact bytes.
    body = (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        if payload is not None
        else b""
    )
    with ProviderHttpClient(
        endpoint.provider, endpoint.base_url.rstrip("/"), timeout=endpoint.timeout_seconds
    ) as client:
        response = client.request(
            method,
            path,
            content=body or None,
            params=params,
            headers=signed_headers(endpoint, body),
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ProviderRejected(
            f"{endpoint.provider} answered {method} {path} with something other than a JSON object",
            provider=endpoint.provider,
            status_code=response.status_code,
            code="malformed_response",
        )
    return answer


def require_identity(
    endpoint: InterfaceEndpoint, status: dict, *, field_name: str, expected: str, label: str
) -> str:
    """The identity the provider reports for the credentials, checked against the configured one."""
    reported = status.get(field_name)
    if not isinstance(reported, str) or not reported:
        raise ProviderRejected(
            f"{endpoint.provider} status did not report a {label}",
            provider=endpoint.provider,
            code="malformed_response",
        )
    if expected and reported != expected:
        raise ProviderRejected(
            f"the credentials belong to {label} '{reported}', not the configured '{expected}'",
            provider=endpoint.provider,
            code="identity_mismatch",
        )
    return reported


def check_environment(provider: str, status: dict, *, sandbox: bool) -> str:
    """Sandbox-mode integrations must talk to a sandbox endpoint, and live ones to production."""
    environment = status.get("environment")
    if environment not in ("sandbox", "production"):
        raise ProviderRejected(
            f"{provider} status did not report its environment",
            provider=provider,
            code="malformed_response",
        )
    if sandbox and environment != "sandbox":
        raise ProviderRejected(
            "sandbox mode is on but the endpoint is a production one",
            provider=provider,
            code="environment_mismatch",
        )
    if not sandbox and environment != "production":
        raise ProviderRejected(
            "sandbox mode is off but the endpoint is a sandbox",
            provider=provider,
            code="environment_mismatch",
        )
    return environment
