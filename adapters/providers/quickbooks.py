"""QuickBooks Online (Intuit), through its Accounting REST API v3 with OAuth2 bearer tokens.

Docs:
- CompanyInfo: https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo
  (GET /v3/company/{realmId}/companyinfo/{realmId})
- OAuth 2.0: https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
  (authorize https://appcenter.intuit.com/connect/oauth2, token
  https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer with HTTP Basic client authentication)
- Sandbox companies: https://developer.intuit.com/app/developer/qbo/docs/develop/sandboxes
- Error codes: https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
Quirks:
- The company is the "realm"; its id arrives as `realmId` on the OAuth redirect and is the
  integration's `company_id`. Every URL carries it.
- Sandbox companies live on their own host (sandbox-quickbooks.api.intuit.com); tokens are
  issued by the same identity service for both.
- Without `Accept: application/json` the API answers XML.
- Errors: {"Fault": {"Error": [{"Message", "Detail", "code"}], "type"}} (some 401s use
  lower-case "fault"/"error"); 401 code 3200 is an expired or invalid token, 403 code 3100
  a realm the token was not issued for.
- `minorversion` selects the schema version of the answer; 75 is the current baseline.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "quickbooks"
display_name = "QuickBooks Online"

LIVE_API_URL = "https://quickbooks.api.intuit.com"
SANDBOX_API_URL = "https://sandbox-quickbooks.api.intuit.com"
MINOR_VERSION = "75"
REALM_ID = re.compile(r"\d{1,20}")


def base_url(*, sandbox: bool = False) -> str:
    return provider_base_url(key, SANDBOX_API_URL if sandbox else LIVE_API_URL)


@dataclass(frozen=True)
class Config:
    access_token: str
    realm_id: str
    base_url: str
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    """Read the CompanyInfo of the realm: cheap, read-only, proves the token fits the realm."""
    if not REALM_ID.fullmatch(config.realm_id):
        # Refused before any request: the realm id becomes part of the URL path.
        raise ProviderRejected(f"'{config.realm_id}' is not a QuickBooks realm id (digits only)",
                               provider=key, code="invalid_realm_id")
    headers = {"Authorization": f"Bearer {config.access_token}", "Accept": "application/json"}
    path = f"/v3/company/{config.realm_id}/companyinfo/{config.realm_id}"
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers=headers) as client:
        response = client.request("GET", path, params={"minorversion": MINOR_VERSION})
    try:
        info = response.json()["CompanyInfo"]
        name, country = info["CompanyName"], info.get("Country", "")
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable("quickbooks: GET companyinfo answered without CompanyInfo", provider=key,
                                  code="malformed_response") from None
    return ValidationResult(message=f"connected to QuickBooks company {name} (realm {config.realm_id})",
                            details={"company_name": name, "country": country})
