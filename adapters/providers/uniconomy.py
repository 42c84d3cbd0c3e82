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
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import (
    Document,
    InvoicePayment,
    JournalEntry,
    Party,
    PushResult,
    SalesInvoice,
    payment_as_journal,
    require_accounts,
)
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


# --- pushes from the hub (sync) ---------------------------------------------------------------
# Entities on the Unimicro platform (https://developer.unimicro.no/docs): Customer
# (`api/biz/customers`, its name in `Info.Name`), CustomerInvoice (`api/biz/invoices`, lines in
# `Items`) and JournalEntry (`api/biz/journalentries?action=book-journal-entries`, draft lines
# with a signed `Amount`: positive debits, negative credits). Lists take OData-style `filter`
# and `select` (https://developer.unimicro.no/guide/introduction/queries).
# - Customers are named by ID; `find_party` finds one by CustomerNumber, `create_party` adds it.
# - Invoice items carry the mapped AccountNumber and the VAT percent of the line.
# - Payments, expenses and reimbursements are booked as journal entries whose Description ends
#   with the hub's reference; invoices carry it as YourReference.


def _push_client(config: Config) -> LentClient:
    if not COMPANY_KEY.fullmatch(config.company_key):
        raise ProviderRejected(f"'{config.company_key}' is not a Unimicro CompanyKey (a GUID)", provider=key,
                               code="invalid_company_key")
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, headers={
        "Authorization": f"Bearer {config.access_token}", "CompanyKey": config.company_key,
        "Accept": "application/json"})


def _rows(response, where: str) -> list[dict]:
    try:
        rows = response.json()
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        raise ProviderUnavailable(f"uniconomy: {where} answered without a list", provider=key,
                                  code="malformed_response")
    return [row for row in rows if isinstance(row, dict)]


def _created(response, where: str) -> str:
    try:
        body = response.json()
        created = body[0] if isinstance(body, list) else body
        return str(created["ID"])
    except (ValueError, KeyError, TypeError, IndexError):
        raise ProviderUnavailable(f"uniconomy: {where} answered without an ID", provider=key,
                                  code="malformed_response") from None


def _quoted(value: str) -> str:
    return value.replace("'", "''")


PARTY_ROLES = ("customer",)  # journal entries name no supplier


def find_party(config: Config, party: Party, role: str) -> str | None:
    with _push_client(config) as client:
        found = _rows(client.request("GET", "/api/biz/customers", params={
            "filter": f"CustomerNumber eq '{_quoted(party.number)}'", "select": "ID"}), "GET customers")
    return str(found[0]["ID"]) if found else None


def create_party(config: Config, party: Party, role: str) -> str:
    body = {"CustomerNumber": party.number, "Info": {"Name": party.name[:250]}}
    if party.organisation_number:
        body["OrgNumber"] = party.organisation_number
    with _push_client(config) as client:
        return _created(client.request("POST", "/api/biz/customers", json=body), "POST customers")


def _journal_description(entry: JournalEntry) -> str:
    return f"{entry.description[:200]} ({entry.reference})"


def push_document(config: Config, document: Document) -> PushResult:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            body = {"CustomerID": int(document.customer.number), "InvoiceDate": document.issue_date.isoformat(),
                    "PaymentDueDate": document.due_date.isoformat(), "CurrencyCode": document.currency,
                    "YourReference": document.reference,
                    "Items": [{"ItemText": line.description[:250], "NumberOfItems": float(line.quantity),
                               "PriceExVat": float(line.unit_price), "AccountNumber": int(line.account),
                               "VatPercent": float(line.vat_rate)} for line in document.lines]}
            return PushResult(remote_id=_created(client.request("POST", "/api/biz/invoices", json=body),
                                                 "POST invoices"))
        entry = require_accounts(payment_as_journal(document) if isinstance(document, InvoicePayment) else document)
        body = [{"Description": _journal_description(entry), "DraftLines": [
            {"AccountNumber": int(line.account), "Amount": float(line.debit - line.credit),
             "FinancialDate": entry.entry_date.isoformat(), "Description": line.description[:250]}
            for line in entry.lines]}]
        return PushResult(remote_id=_created(client.request(
            "POST", "/api/biz/journalentries", params={"action": "book-journal-entries"}, json=body),
            "POST journalentries"))


def find_document(config: Config, document: Document) -> str | None:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            rows = _rows(client.request("GET", "/api/biz/invoices", params={
                "filter": f"YourReference eq '{_quoted(document.reference)}'", "select": "ID"}), "GET invoices")
        else:
            entry = payment_as_journal(document) if isinstance(document, InvoicePayment) else document
            rows = _rows(client.request("GET", "/api/biz/journalentries", params={
                "filter": f"Description eq '{_quoted(_journal_description(entry))}'", "select": "ID"}),
                "GET journalentries")
    return str(rows[0]["ID"]) if rows else None
