"""Uniconomy: Uni Economy by Uni Micro, on the Unimicro platform API, with OAuth2 bearer tokens.

"Uniconomy" is the hub's name for Uni Micro's Uni Economy (the product now sold as Unimicro);
its public developer documentation is the Unimicro developer portal:
- Web (authorization code) auth: https://developer.unimicro.no/guide/authentication/auth-code
  (authorize https://test-login.unimicro.no/connect/authorize, token
  https://test-login.unimicro.no/connect/token, client id and secret sent as form fields,
  scopes "AppFramework profile openid offline_access")
- Server clients: https://developer.unimicro.no/guide/authentication/server
- Company-scoped endpoints need the `CompanyKey` header: https://developer.unimicro.no/guide/endpoints/users
- Entity reference: https://developer.unimicro.no/docs (CompanySettings: `api/biz/companysettings`)
Quirks:
- One login serves several companies and several platforms (Uni Economy, Unimicro and
  bank-branded editions), each with its own API host. The test platform is
  https://test.unimicro.no; a live platform host must be configured with
  PROVIDER_UNICONOMY_BASE_URL because it depends on which edition the company uses.
- The company is selected per request by the `CompanyKey` header (a GUID), which is the
  integration's `company_id`. Company settings are a singleton with ID 1.
- OData-style `select` narrows the answer to the fields asked for.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "uniconomy"
display_name = "Uniconomy"

SANDBOX_API_URL = "https://test.unimicro.no"
COMPANY_KEY = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def base_url(*, sandbox: bool = False) -> str:
    """The test platform, or the configured live platform host ("" when none is configured)."""
    return provider_base_url(key, SANDBOX_API_URL if sandbox else "")


@dataclass(frozen=True)
class Config:
    access_token: str
    company_key: str
    base_url: str
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    """Read the company's name and organisation number from its settings (ID 1)."""
    if not config.base_url:
        raise ProviderRejected("no Unimicro platform host is configured for live companies; set "
                               "PROVIDER_UNICONOMY_BASE_URL", provider=key, code="not_configured")
    if not COMPANY_KEY.fullmatch(config.company_key):
        raise ProviderRejected(f"'{config.company_key}' is not a Unimicro CompanyKey (a GUID)", provider=key,
                               code="invalid_company_key")
    headers = {"Authorization": f"Bearer {config.access_token}", "CompanyKey": config.company_key,
               "Accept": "application/json"}
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers=headers) as client:
        response = client.request("GET", "/api/biz/companysettings/1",
                                  params={"select": "CompanyName,OrganizationNumber"})
    try:
        settings = response.json()
        name, organisation_number = settings["CompanyName"], settings.get("OrganizationNumber") or ""
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable("uniconomy: GET api/biz/companysettings/1 answered without CompanyName",
                                  provider=key, code="malformed_response") from None
    return ValidationResult(message=f"connected to Uniconomy company {name} ({organisation_number})",
                            details={"company_name": name, "organization_number": organisation_number})
