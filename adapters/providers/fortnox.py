"""Fortnox (Swedish accounting), through its REST API v3 with OAuth2 bearer tokens.

Docs:
- API reference: https://apps.fortnox.se/apidocs (company information: GET /3/companyinformation)
- Authorization code flow: https://www.fortnox.se/developer/authorization/get-authorization-code
- Token exchange and refresh: https://www.fortnox.se/developer/authorization/get-access-token and
  https://fortnox.se/developer/authorization/get-refresh-token
- Error shape: https://www.fortnox.se/developer/guides-and-good-to-know/responses
Quirks:
- The token endpoint authenticates the client with HTTP Basic (client id : client secret),
  not with form fields. Access tokens live one hour; every refresh returns a new refresh
  token and invalidates the old one, so the new one must be stored each time.
- Fortnox has no separate sandbox host: developer test companies live on the production API.
  Validation is a read-only GET, so it is safe to run against a real company.
- Errors carry {"ErrorInformation": {"error", "message", "code"}}; messages are often Swedish.
- Rate limit: 25 requests per 5 seconds per access token, answered with 429.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "fortnox"
display_name = "Fortnox"

API_URL = "https://api.fortnox.se"


def base_url(*, sandbox: bool = False) -> str:
    """One host for test and live companies; PROVIDER_FORTNOX_BASE_URL overrides it."""
    return provider_base_url(key, API_URL)


@dataclass(frozen=True)
class Config:
    access_token: str
    base_url: str = field(default_factory=base_url)
    timeout_seconds: float = 10.0


def _client(config: Config) -> ProviderHttpClient:
    return ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers={
        "Authorization": f"Bearer {config.access_token}", "Accept": "application/json"})


def validate(config: Config) -> ValidationResult:
    """GET /3/companyinformation: cheap, read-only, needs only the `companyinformation` scope."""
    with _client(config) as client:
        response = client.request("GET", "/3/companyinformation")
    try:
        company = response.json()["CompanyInformation"]
        name, organisation_number = company["CompanyName"], company.get("OrganizationNumber", "")
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable("fortnox: GET /3/companyinformation answered without CompanyInformation",
                                  provider=key, code="malformed_response") from None
    return ValidationResult(message=f"connected to Fortnox company {name} ({organisation_number})",
                            details={"company_name": name, "organization_number": organisation_number})
