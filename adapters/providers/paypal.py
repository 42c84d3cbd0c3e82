"""PayPal REST APIs: OAuth 2.0 client credentials, then a cheap authenticated read.

Docs: https://developer.paypal.com/api/rest/authentication/ (POST /v1/oauth2/token with HTTP
Basic client id and secret, `grant_type=client_credentials`) and
https://developer.paypal.com/docs/api/webhooks/v1/#webhooks_list (GET /v1/notifications/webhooks).
The published descriptions we build and test against are tests/sandboxes/specs/paypal-*.json
(paypal/paypal-rest-api-specifications); the token endpoint is not in them.
Quirks:
- Sandbox and live are different hosts (api-m.sandbox.paypal.com, api-m.paypal.com) with
  different credentials; the integration's sandbox_mode picks the host.
- A wrong client id or secret is 401 `{"error": "invalid_client", "error_description":
  "Client Authentication failed"}` from the token endpoint.
- This is the client-credentials grant: the hub holds the app's own credentials, so there is no
  user authorisation and no refresh token; an access token is fetched per call chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderAuthFailed
from adapters.http import ProviderHttpClient, provider_base_url, provider_token_url
from adapters.types import ValidationResult

key = "paypal"
display_name = "PayPal"
SANDBOX_URL = "https://api-m.sandbox.paypal.com"
LIVE_URL = "https://api-m.paypal.com"


def default_base_url(sandbox: bool) -> str:
    return provider_base_url("paypal", SANDBOX_URL if sandbox else LIVE_URL)


@dataclass(frozen=True)
class Config:
    client_id: str
    client_secret: str = field(repr=False)  # a secret
    sandbox: bool = True
    base_url: str = LIVE_URL
    timeout_seconds: float = 10.0

    @property
    def token_url(self) -> str:
        return provider_token_url("paypal", f"{self.base_url.rstrip('/')}/v1/oauth2/token")


def access_token(config: Config) -> str:
    with ProviderHttpClient(
        key,
        config.base_url,
        timeout=config.timeout_seconds,
        auth=(config.client_id, config.client_secret),
    ) as client:
        response = client.request(
            "POST",
            config.token_url,
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
    token = response.json().get("access_token")
    if not token:
        raise ProviderAuthFailed(
            "PayPal's token endpoint answered without an access token", provider=key
        )
    return token


def validate(config: Config) -> ValidationResult:
    token = access_token(config)
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds) as client:
        response = client.request(
            "GET",
            "/v1/notifications/webhooks",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
    webhooks = response.json().get("webhooks", [])
    environment = "sandbox" if config.sandbox else "live"
    return ValidationResult(
        message=f"authenticated with PayPal ({environment}); {len(webhooks)} webhook(s) registered",
        details={"webhooks": len(webhooks)},
    )
