"""Visma.net ERP (Visma Net Financials), through the Visma.net ERP API v1 with Visma Connect tokens.

Docs:
- Authentication (Visma Connect): https://docs.vismasoftware.no/vismanetapi/authentication
  (authorize https://connect.visma.com/connect/authorize, token https://connect.visma.com/connect/token)
- Service integrations (client credentials with `tenant_id`):
  https://docs.vismasoftware.no/vismanetapi/developer-portal/service-integrations
- API reference: https://api.finance.visma.net/API-index/index.html, linked from
  https://docs.vismasoftware.no/vismanetapi/introduction/exploring-the-api/ (server
  https://api.finance.visma.net; `GET /v1/account` "Get a range of General ledger accounts")
Quirks:
- The company is chosen by the Visma Connect tenant the token was issued for, so the
  integration's `company_id` is that tenant id; it goes into the token request, not the URL.
  The legacy host integration.visma.net/API with `ipp-company-id` headers is the old VNI scheme.
- Validation lists the active general ledger accounts: read-only, proves the token reaches the
  company's ERP, and lets us check that every mapped account exists (`accountCD`).
- Errors are {"ExceptionType", "ExceptionMessage", "ExceptionFaultCode", ...}; fault 12027
  "No license for this company." is a tenant without a Financials licence.
- There is no sandbox host; test tenants are ordinary companies on the same API.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "visma_net"
display_name = "Visma.net"

API_URL = "https://api.finance.visma.net"


def base_url(*, sandbox: bool = False) -> str:
    return provider_base_url(key, API_URL)


@dataclass(frozen=True)
class Config:
    access_token: str
    account_codes: tuple[str, ...] = ()  # codes the chart-of-accounts mapping uses
    base_url: str = field(default_factory=base_url)
    timeout_seconds: float = 15.0


def validate(config: Config) -> ValidationResult:
    headers = {"Authorization": f"Bearer {config.access_token}", "Accept": "application/json"}
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers=headers) as client:
        response = client.request("GET", "/v1/account", params={"active": "true"})
    try:
        accounts = response.json()
        codes = {str(account["accountCD"]) for account in accounts}
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable("visma_net: GET /v1/account answered without a list of accounts", provider=key,
                                  code="malformed_response") from None
    missing = sorted(set(config.account_codes) - codes)
    if missing:
        raise ProviderRejected(f"account codes not among the active general ledger accounts: {', '.join(missing)}",
                               provider=key, code="unknown_account_codes")
    return ValidationResult(message=f"connected to Visma.net ERP ({len(codes)} active accounts)",
                            details={"active_accounts": len(codes)})
