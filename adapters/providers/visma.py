"""Visma eAccounting (sold as Spiris in Sweden), through its REST API v2 with OAuth2 bearer tokens.

Docs:
- API reference (Swagger): https://eaccountingapi.vismaonline.com/swagger/ui/index
  (GET /v2/companysettings: the settings of the company the token was issued for)
- Authentication and scopes: https://developer.vismaonline.com/docs/getting-started (authorize
  https://identity.vismaonline.com/connect/authorize, token https://identity.vismaonline.com/connect/token
  with HTTP Basic client authentication; scopes `ea:api offline_access` plus area scopes)
- Sandbox companies for partners: https://developer.vismaonline.com/docs/ (API
  https://eaccountingapi-sandbox.test.vismaonline.com, identity https://identity-sandbox.test.vismaonline.com)
- Known errors: https://community.visma.com/t5/Knowledge-base-in-Visma/tkb-p/IN_MA_eAccountingAPI_knowledgebase
Quirks:
- A token is bound to one company chosen at consent, so there is no company id in the URL.
- "ForbiddenRequestException - No access to module: api_standard" (403) means the company has
  not switched the API on or lacks the licence; "the startup guide has not been completed"
  means the company was never set up. Both are answered with {"ErrorCode", "DeveloperErrorMessage"}.
- The Swedish chart is BAS; account numbers are four digits.
"""
from __future__ import annotations

from dataclasses import dataclass

from adapters.errors import ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "visma"
display_name = "Visma eAccounting"

LIVE_API_URL = "https://eaccountingapi.vismaonline.com"
SANDBOX_API_URL = "https://eaccountingapi-sandbox.test.vismaonline.com"


def base_url(*, sandbox: bool = False) -> str:
    return provider_base_url(key, SANDBOX_API_URL if sandbox else LIVE_API_URL)


@dataclass(frozen=True)
class Config:
    access_token: str
    base_url: str
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    """GET /v2/companysettings: read-only, and fails unless the API module is on for the company."""
    headers = {"Authorization": f"Bearer {config.access_token}", "Accept": "application/json"}
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers=headers) as client:
        response = client.request("GET", "/v2/companysettings")
    try:
        settings = response.json()
        name, identity_number = settings["Name"], settings.get("CorporateIdentityNumber") or ""
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable("visma: GET /v2/companysettings answered without the company settings",
                                  provider=key, code="malformed_response") from None
    return ValidationResult(message=f"connected to Visma eAccounting company {name} ({identity_number})",
                            details={"company_name": name, "corporate_identity_number": identity_number})
