"""iDEAL through Rabo Smart Pay (Rabobank's acquiring API, formerly Rabo OmniKassa 2.0).

We chose an acquirer API rather than the iDEAL 2.0 Hub's direct Merchant/CPSP API
(https://currencenl.atlassian.net/wiki/spaces/IPD/pages/3417538917): the direct connection needs
a Currence-issued mTLS certificate, a separate Currence signing certificate for detached JWS
(ES256) and a short-lived access token issued by the acquirer, and the direct connection is
meant for large merchants and CPSPs. Through an acquirer, a federation needs only the refresh
token and signing key from its Rabo Smart Pay dashboard. Rabobank is an iDEAL acquirer and
routes these payments to iDEAL 2.0 itself.

API, as Rabobank's own SDKs call it (e.g. rabobank-omnikassa-java-sdk, ApiConnector):
- GET {base}/gatekeeper/refresh with `Authorization: Bearer <refresh token>` -> {"token",
  "validUntil", "durationInMillis"}: a short-lived access token.
- GET {base}/order/server/api/payment-brands with the access token -> {"paymentBrands":
  [{"name": "IDEAL", "status": "Active"}, ...]}: which payment methods the contract enables.
- Hosts: https://betalen.rabobank.nl/omnikassa-api (live) and …/omnikassa-api-sandbox.
Quirks:
- Errors carry `errorCode`, `errorMessage` and sometimes `consumerMessage` in the JSON body.
- The signing key (webhook_signing_key_ref) verifies notifications and order results; it is not
  needed to read the payment brands, so validation does not use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderAuthFailed, ProviderRejected
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "ideal"
display_name = "iDEAL (Rabo Smart Pay)"
SANDBOX_URL = "https://betalen.rabobank.nl/omnikassa-api-sandbox"
LIVE_URL = "https://betalen.rabobank.nl/omnikassa-api"


def default_base_url(sandbox: bool) -> str:
    return provider_base_url("ideal", SANDBOX_URL if sandbox else LIVE_URL)


@dataclass(frozen=True)
class Config:
    refresh_token: str = field(repr=False)  # a secret
    base_url: str = LIVE_URL
    timeout_seconds: float = 10.0


def _get(config: Config, path: str, bearer: str) -> dict:
    # The base URL carries a path (/omnikassa-api), so requests are relative to it.
    with ProviderHttpClient(
        key, config.base_url.rstrip("/") + "/", timeout=config.timeout_seconds
    ) as client:
        response = client.request(
            "GET", path, headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
        )
    body = response.json()
    if "errorCode" in body:  # the SDKs treat an errorCode in any answer as a failure
        raise ProviderRejected(
            f"{body.get('errorCode')}: {body.get('errorMessage', '')}",
            provider=key,
            code=str(body.get("errorCode")),
        )
    return body


def access_token(config: Config) -> str:
    token = _get(config, "gatekeeper/refresh", config.refresh_token).get("token")
    if not token:
        raise ProviderAuthFailed(
            "Rabo Smart Pay answered the token refresh without a token", provider=key
        )
    return token


def validate(config: Config) -> ValidationResult:
    brands = _get(config, "order/server/api/payment-brands", access_token(config)).get(
        "paymentBrands", []
    )
    status = {brand.get("name"): brand.get("status") for brand in brands}
    if status.get("IDEAL") != "Active":
        raise ProviderRejected(
            "iDEAL is not active on this Rabo Smart Pay contract",
            provider=key,
            code="ideal_inactive",
        )
    return ValidationResult(
        message="authenticated with Rabo Smart Pay; iDEAL is active",
        details={"payment_brands": status},
    )
