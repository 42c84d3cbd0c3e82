"""Swish (Getswish AB) Commerce API: the merchant is authenticated by its TLS client certificate.

Docs: https://developer.swish.nu/documentation/getting-started/swish-commerce-api (payment
requests: PUT /api/v2/paymentrequests/{instructionUUID} to create, GET
/api/v1/paymentrequests/{id} to retrieve) and https://developer.swish.nu/documentation/environments
(hosts and certificates). Swish publishes no OpenAPI description.
Quirks:
- There is no API key: the bank-issued client certificate (mTLS) identifies the merchant, so
  the integration's `signing_certificate_ref` holds the certificate and its unencrypted private
  key in one PEM. A certificate Swish does not know fails the TLS handshake itself.
- The Swish servers present a certificate from Swish's own root CA, which is not in public
  trust stores: set PROVIDER_SWISH_CA_BUNDLE to the path of the Swish TLS root CA PEM (the
  default is the system store, which only works behind a proxy re-signing with a public CA).
- Validation retrieves a payment request id that cannot exist: 404 means the certificate was
  accepted and the API answered, without creating anything. Python's ssl module loads client
  certificates only from files, so the PEM lives in a private temporary directory for the
  moment it takes to load it.
- Hosts: https://cpc.getswish.net/swish-cpcapi (production),
  https://mss.cpc.getswish.net/swish-cpcapi (the Merchant Swish Simulator, for sandbox mode).
"""

from __future__ import annotations

import os
import ssl
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from adapters.errors import ProviderAuthFailed, ProviderError, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "swish"
display_name = "Swish"
SANDBOX_URL = "https://mss.cpc.getswish.net/swish-cpcapi"
LIVE_URL = "https://cpc.getswish.net/swish-cpcapi"
CA_BUNDLE_ENV = "PROVIDER_SWISH_CA_BUNDLE"
# TLS alerts a server sends when it refuses the client's certificate.
_CLIENT_CERTIFICATE_REFUSED = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_EXPIRED",
    "ACCESS_DENIED",
    "HANDSHAKE_FAILURE",
)


def ca_bundle_from_env() -> str:
    return os.environ.get(CA_BUNDLE_ENV, "").strip()


def default_base_url(sandbox: bool) -> str:
    return provider_base_url("swish", SANDBOX_URL if sandbox else LIVE_URL)


@dataclass(frozen=True)
class Config:
    certificate_pem: str
    payee_alias: str = ""
    sandbox: bool = True
    base_url: str = LIVE_URL
    ca_bundle: str = field(default_factory=ca_bundle_from_env)
    timeout_seconds: float = 10.0

    def __repr__(self) -> str:  # the PEM holds a private key
        return f"swish.Config(payee_alias={self.payee_alias!r}, base_url={self.base_url!r})"


def ssl_context(config: Config) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=config.ca_bundle or None)
    except (OSError, ssl.SSLError) as exc:
        raise ProviderRejected(
            f"{CA_BUNDLE_ENV} could not be loaded: {exc.strerror or exc}",
            provider=key,
            code="ca_bundle_invalid",
        ) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="swish-") as directory:
        pem_path = Path(directory) / "client.pem"
        pem_path.touch(mode=0o600)
        pem_path.write_text(config.certificate_pem)
        try:
            context.load_cert_chain(pem_path)
        except ssl.SSLError:
            raise ProviderRejected(
                "the Swish client certificate PEM needs the certificate and its unencrypted "
                "private key",
                provider=key,
                code="certificate_invalid",
            ) from None
    return context


def _ssl_reason(error: BaseException) -> str:
    while error is not None:
        if isinstance(error, ssl.SSLError):
            return (error.reason or str(error)).upper()
        error = error.__cause__ or error.__context__
    return ""


def _translate_tls_failure(exc: ProviderUnavailable) -> ProviderError:
    reason = _ssl_reason(exc)
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        return ProviderRejected(
            f"the Swish server's certificate is not trusted; set {CA_BUNDLE_ENV} to the "
            "Swish TLS root CA",
            provider=key,
            code="server_certificate_untrusted",
        )
    if any(alert in reason for alert in _CLIENT_CERTIFICATE_REFUSED):
        return ProviderAuthFailed(
            f"Swish refused the client certificate ({reason.lower()})",
            provider=key,
            code="client_certificate_refused",
        )
    return exc


def retrieve_payment_request(config: Config, payment_request_id: str) -> dict:
    with ProviderHttpClient(
        key,
        config.base_url.rstrip("/") + "/",
        timeout=config.timeout_seconds,
        verify=ssl_context(config),
    ) as client:
        try:
            response = client.request(
                "GET",
                f"api/v1/paymentrequests/{payment_request_id}",
                headers={"Accept": "application/json"},
            )
        except ProviderUnavailable as exc:
            raise _translate_tls_failure(exc) from exc
    return response.json()


def validate(config: Config) -> ValidationResult:
    probe_id = (
        uuid.uuid4().hex.upper()
    )  # Swish ids are 32 upper-case hex digits; this one was never issued
    try:
        retrieve_payment_request(config, probe_id)
    except ProviderRejected as exc:
        if exc.status_code != 404 or isinstance(exc, ProviderAuthFailed):
            raise
    environment = "Merchant Swish Simulator" if config.sandbox else "production"
    return ValidationResult(
        message=f"authenticated with Swish ({environment}): the client certificate was accepted",
        details={"payee_alias": config.payee_alias},
    )
