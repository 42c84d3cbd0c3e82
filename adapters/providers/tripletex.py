"""Tripletex (Norwegian accounting), through its REST API v2 with session tokens.

Docs:
- Authentication: https://developer.tripletex.no/docs/documentation/authentication-and-tokens/
  and the API reference https://tripletex.no/v2-docs/ (token/session :create and >whoAmI)
- Test environment for partners: https://api-test.tripletex.tech (accounts registered there)
Quirks:
- Not OAuth. The integration owns a *consumer token* (issued to the integrator) and the customer
  creates an *employee token*; `PUT /v2/token/session/:create?consumerToken=…&employeeToken=…&expirationDate=YYYY-MM-DD`
  exchanges them for a session token, answered as {"value": {"token": …}}.
- Every other call authenticates with HTTP Basic: user name "0" for the employee's own company,
  or the id of a client company an accountant acts for; password = the session token.
- `GET /v2/token/session/>whoAmI` names the employee and company of the session. The ">" and
  ":" are literal parts of the path, not templates.
- Errors are {"status", "code", "message", "developerMessage", "validationMessages", "requestId"}.
In the hub: the consumer token lives in `oauth_client_secret_ref` (it identifies the integrator,
like a client secret) and the employee token in `api_key_ref`; `company_id` is the Basic user
name when an accountant acts for a client company.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date, timedelta

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "tripletex"
display_name = "Tripletex"

LIVE_API_URL = "https://tripletex.no/v2"
SANDBOX_API_URL = "https://api-test.tripletex.tech/v2"
COMPANY_ID = re.compile(r"\d{1,12}")
# Validation needs the session for seconds, but the expiration date must be later than today;
# the session then ends at midnight of that date.
SESSION_DAYS = 1


def base_url(*, sandbox: bool = False) -> str:
    return provider_base_url(key, SANDBOX_API_URL if sandbox else LIVE_API_URL)


@dataclass(frozen=True)
class Config:
    consumer_token: str
    employee_token: str
    base_url: str
    company_id: str = ""  # empty: the employee's own company (Basic user name "0")
    timeout_seconds: float = 10.0


def create_session(client: ProviderHttpClient, config: Config, *, today: date | None = None) -> str:
    expires = (today or date.today()) + timedelta(days=SESSION_DAYS)
    response = client.request("PUT", "/token/session/:create", params={
        "consumerToken": config.consumer_token, "employeeToken": config.employee_token,
        "expirationDate": expires.isoformat()})
    token = _value(response, "PUT /token/session/:create").get("token")
    if not isinstance(token, str) or not token:
        raise ProviderUnavailable("tripletex: the session answer carries no token", provider=key,
                                  code="malformed_response")
    return token


def basic_authorization(config: Config, session_token: str) -> str:
    """`Basic base64(<company id or 0>:<session token>)`, as every call after the session needs."""
    pair = f"{config.company_id or '0'}:{session_token}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def validate(config: Config) -> ValidationResult:
    """Create a session, then ask whoAmI with it: proves both tokens and the company access."""
    if config.company_id and not COMPANY_ID.fullmatch(config.company_id):
        raise ProviderRejected(f"'{config.company_id}' is not a Tripletex company id (digits only)", provider=key,
                               code="invalid_company_id")
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds,
                            default_headers={"Accept": "application/json"}) as client:
        session_token = create_session(client, config)
        who = _value(client.request("GET", "/token/session/>whoAmI",
                                    headers={"Authorization": basic_authorization(config, session_token)}),
                     "GET /token/session/>whoAmI")
    company = who.get("company") if isinstance(who.get("company"), dict) else {}
    company_id = str(who.get("companyId", company.get("id", "")))
    if config.company_id and company_id != config.company_id:
        raise ProviderRejected(f"the session acts for Tripletex company {company_id}, not {config.company_id}",
                               provider=key, code="company_mismatch")
    name = company.get("name") or company_id
    return ValidationResult(message=f"connected to Tripletex company {name} ({company_id})",
                            details={"company_id": company_id, "company_name": name,
                                     "employee_id": who.get("employeeId")})


def _value(response, where: str) -> dict:
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, dict):
        raise ProviderUnavailable(f"tripletex: {where} answered without a value object", provider=key,
                                  code="malformed_response")
    return value
