"""PagSeguro / PagBank: a bearer token, validated with GET /public-keys/card.

Docs: https://developer.pagbank.com.br/docs/token-de-autenticacao (the token, sandbox and
production) and https://developer.pagbank.com.br/reference/consultar-chave-publica
(GET /public-keys/card: the account's public key for card encryption: authenticated, read-only
and cheap). Hosts: https://sandbox.api.pagseguro.com and https://api.pagseguro.com.
Quirks:
- Sandbox and production tokens are different and each works only on its own host.
- A bad token is 401 `{"error_messages": [{"code": "UNAUTHORIZED", "description": "Invalid
  credential. Review AUTHORIZATION header"}]}`.
- An account that never created a card public key answers 404 here; the token was still
  accepted, so that passes validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "pagseguro"
display_name = "PagBank (PagSeguro)"
SANDBOX_URL = "https://sandbox.api.pagseguro.com"
LIVE_URL = "https://api.pagseguro.com"


def default_base_url(sandbox: bool) -> str:
    return provider_base_url("pagseguro", SANDBOX_URL if sandbox else LIVE_URL)


@dataclass(frozen=True)
class Config:
    token: str = field(repr=False)  # a secret
    base_url: str = LIVE_URL
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    headers = {"Authorization": f"Bearer {config.token}", "Accept": "application/json"}
    try:
        with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds) as client:
            client.request("GET", "/public-keys/card", headers=headers)
    except ProviderRejected as exc:
        if exc.status_code != 404:
            raise
        return ValidationResult(
            message="authenticated with PagBank (no card public key created yet)"
        )
    return ValidationResult(message="authenticated with PagBank (card public key present)")
