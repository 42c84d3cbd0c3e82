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
import threading
from dataclasses import dataclass
from datetime import date, timedelta

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import (
    Document,
    InvoicePayment,
    JournalEntry,
    Party,
    PushResult,
    SalesInvoice,
    invoice_as_journal,
    payment_as_journal,
    require_accounts,
)
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


# --- pushes from the hub (sync) ---------------------------------------------------------------
# From the API reference (https://tripletex.no/v2-docs/): POST /ledger/voucher (postings with
# account ids and signed gross amounts, balancing to zero), GET /ledger/account?number= (the id
# of an account number), GET/POST /customer, GET /ledger/voucher?dateFrom&dateTo (dateTo is
# exclusive). Lists answer {"values": [...]}, single objects {"value": {...}}.
# - Everything is booked as a voucher whose postings follow the chart-of-accounts mapping:
#   Tripletex invoices take products and VAT types rather than accounts, so an invoice from the
#   hub is a customer voucher (receivables with the customer, income per line, output VAT).
# - The session token is created once per process and day and reused; after a 401 the caller
#   calls `forget_credentials` and the next call opens a new session.
# - Account ids and customer ids are looked up once per process (accounts) or once ever (the
#   sync log keeps customer ids); the hub's reference ends each voucher's description.

_sessions: dict[tuple, str] = {}
_account_ids: dict[tuple, int] = {}
_cache_lock = threading.Lock()


def _session_key(config: Config) -> tuple:
    return config.base_url, config.consumer_token, config.employee_token, config.company_id, date.today()


def forget_credentials(config: Config) -> None:
    with _cache_lock:
        _sessions.pop(_session_key(config), None)


def _authorized_client(config: Config) -> LentClient:
    with _cache_lock:
        token = _sessions.get(_session_key(config))
    if token is None:
        with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds,
                                default_headers={"Accept": "application/json"}) as client:
            token = create_session(client, config)
        with _cache_lock:
            _sessions[_session_key(config)] = token
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, headers={
        "Accept": "application/json", "Authorization": basic_authorization(config, token)})


def _values(response, where: str) -> list[dict]:
    try:
        values = response.json()["values"]
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(f"tripletex: {where} answered without values", provider=key,
                                  code="malformed_response") from None
    return [value for value in values if isinstance(value, dict)] if isinstance(values, list) else []


def _account_id(client: LentClient, config: Config, number: str) -> int:
    cache_key = (config.base_url, config.company_id, number)
    with _cache_lock:
        if cache_key in _account_ids:
            return _account_ids[cache_key]
    found = _values(client.request("GET", "/ledger/account", params={"number": number, "fields": "id"}),
                    "GET /ledger/account")
    if not found:
        raise ProviderRejected(f"tripletex: account {number} does not exist in the company's chart", provider=key,
                               code="unknown_account")
    with _cache_lock:
        _account_ids[cache_key] = int(found[0]["id"])
    return _account_ids[cache_key]


PARTY_ROLES = ("customer",)  # expense vouchers name no supplier


def find_party(config: Config, party: Party, role: str) -> str | None:
    with _authorized_client(config) as client:
        found = _values(client.request("GET", "/customer", params={"customerAccountNumber": party.number,
                                                                   "fields": "id"}), "GET /customer")
    return str(found[0]["id"]) if found else None


def create_party(config: Config, party: Party, role: str) -> str:
    body = {"name": party.name[:255], "customerNumber": int(party.number) if party.number.isdigit() else None,
            "email": party.email or None, "organizationNumber": party.organisation_number or None,
            "isCustomer": True}
    with _authorized_client(config) as client:
        return str(_value(client.request("POST", "/customer", json=body), "POST /customer")["id"])


def _description(entry: JournalEntry) -> str:
    return f"{entry.description[:200]} ({entry.reference})"


def push_document(config: Config, document: Document) -> PushResult:
    if isinstance(document, SalesInvoice):
        entry = invoice_as_journal(document)
    elif isinstance(document, InvoicePayment):
        entry = payment_as_journal(document)
    else:
        entry = document
    require_accounts(entry)
    with _authorized_client(config) as client:
        postings = []
        for row, line in enumerate(entry.lines, start=1):
            amount = float(line.debit - line.credit)
            posting = {"row": row, "date": entry.entry_date.isoformat(), "description": line.description[:255],
                       "account": {"id": _account_id(client, config, line.account)}, "amountGross": amount,
                       "amountGrossCurrency": amount, "currency": {"code": entry.currency}}
            receivable = entry.kind in ("invoice", "payment") and line.account == _receivables(document)
            if receivable and entry.payee is not None and entry.payee.number.isdigit():
                posting["customer"] = {"id": int(entry.payee.number)}
            postings.append(posting)
        body = {"date": entry.entry_date.isoformat(), "description": _description(entry), "postings": postings}
        voucher = _value(client.request("POST", "/ledger/voucher", json=body), "POST /ledger/voucher")
    return PushResult(remote_id=str(voucher["id"]))


def _receivables(document: Document) -> str:
    return getattr(document, "receivables_account", "")


def find_document(config: Config, document: Document) -> str | None:
    if isinstance(document, SalesInvoice):
        entry = invoice_as_journal(document)
    elif isinstance(document, InvoicePayment):
        entry = payment_as_journal(document)
    else:
        entry = document
    params = {"dateFrom": entry.entry_date.isoformat(),
              "dateTo": (entry.entry_date + timedelta(days=1)).isoformat(), "fields": "id,description"}
    with _authorized_client(config) as client:
        found = _values(client.request("GET", "/ledger/voucher", params=params), "GET /ledger/voucher")
    hit = next((row for row in found if row.get("description") == _description(entry)), None)
    return str(hit["id"]) if hit else None
