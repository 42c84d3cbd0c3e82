"""Mercado Pago: a bearer access token, validated with GET /users/me.

Docs: https://www.mercadopago.com.br/developers/en/reference (base URL https://api.mercadopago.com,
`Authorization: Bearer <access token>` on every request) and the users resource
https://www.mercadolibre.com.ar/developers/en/docs/users (GET /users/me, the account behind
the token). Mercado Pago publishes no OpenAPI description (see tests/sandboxes/specs/SOURCES.md).
Quirks:
- Test credentials are either `TEST-…` access tokens or the credentials of a test user, whose
  /users/me carries the `test_user` tag; the live API serves both, so sandbox mode is checked
  from the answer, not from the host.
- A bad token is 401 `{"message": "invalid access token", "error": "unauthorized", ...}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "mercado_pago"
display_name = "Mercado Pago"


@dataclass(frozen=True)
class Config:
    access_token: str = field(repr=False)  # a secret
    sandbox: bool = True
    base_url: str = field(
        default_factory=lambda: provider_base_url("mercado_pago", "https://api.mercadopago.com")
    )
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds) as client:
        response = client.request(
            "GET", "/users/me", headers={"Authorization": f"Bearer {config.access_token}"}
        )
    user = response.json()
    test_account = config.access_token.startswith("TEST-") or "test_user" in (
        user.get("tags") or []
    )
    if config.sandbox and not test_account:
        raise ProviderRejected(
            "sandbox mode needs Mercado Pago test credentials (a TEST- access token or a "
            "test user's)",
            provider=key,
            code="live_credentials_in_sandbox",
        )
    return ValidationResult(
        message=f"authenticated with Mercado Pago as {user.get('nickname') or user.get('id')} "
        f"({user.get('site_id', 'unknown site')}, {'test' if test_account else 'live'})",
        details={"user_id": user.get("id"), "site_id": user.get("site_id")},
    )
