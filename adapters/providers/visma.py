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


# --- pushes from the hub (sync) ---------------------------------------------------------------
# From the eAccounting API v2 reference (https://eaccountingapi.vismaonline.com/swagger/ui/index):
# POST /v2/customerinvoices (rows with AccountNumber), POST /v2/vouchers (manual vouchers: rows
# with DebitAmount/CreditAmount), GET/POST /v2/customers; lists take OData `$filter`.
# - Customers are named by their Id (a GUID); `find_party` finds one by CustomerNumber and
#   `create_party` adds it.
# - Row VAT follows the VAT code of the row's account in the company's chart (the BAS accounts
#   carry it: 3041 sales 25 %, 3010 exempt licence fees), so the mapping decides the VAT.
# - Payments are booked as vouchers (bank debited, receivables credited); expenses and
#   reimbursements as vouchers from their balanced entries.
# - The hub's reference is YourReference on invoices and ends the VoucherText of vouchers.

MANUAL_VOUCHER = 2  # VoucherType of vouchers entered by hand (the API's "manual voucher")


def _push_client(config: Config) -> LentClient:
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, headers={
        "Authorization": f"Bearer {config.access_token}", "Accept": "application/json"})


def _id(response, where: str) -> str:
    try:
        return str(response.json()["Id"])
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(f"visma: {where} answered without an Id", provider=key,
                                  code="malformed_response") from None


def _data(response, where: str) -> list[dict]:
    try:
        rows = response.json()["Data"]
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(f"visma: {where} answered without Data", provider=key,
                                  code="malformed_response") from None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def _odata(value: str) -> str:
    return value.replace("'", "''")


PARTY_ROLES = ("customer",)  # vouchers name no supplier


def find_party(config: Config, party: Party, role: str) -> str | None:
    with _push_client(config) as client:
        rows = _data(client.request("GET", "/v2/customers", params={
            "$filter": f"CustomerNumber eq '{_odata(party.number)}'"}), "GET /v2/customers")
    return str(rows[0]["Id"]) if rows else None


def create_party(config: Config, party: Party, role: str) -> str:
    body = {"CustomerNumber": party.number, "Name": party.name[:50], "IsPrivatePerson": False,
            "EmailAddress": party.email or None, "CorporateIdentityNumber": party.organisation_number or None}
    with _push_client(config) as client:
        return _id(client.request("POST", "/v2/customers", json=body), "POST /v2/customers")


def _voucher_text(entry: JournalEntry) -> str:
    return f"{entry.description[:60]} ({entry.reference})"


def push_document(config: Config, document: Document) -> PushResult:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            rows = [{"LineNumber": position, "AccountNumber": int(line.account), "Text": line.description[:2000],
                     "UnitPrice": float(line.unit_price), "Quantity": float(line.quantity), "IsTextRow": False}
                    for position, line in enumerate(document.lines, start=1)]
            body = {"CustomerId": document.customer.number, "InvoiceDate": document.issue_date.isoformat(),
                    "DueDate": document.due_date.isoformat(), "CurrencyCode": document.currency,
                    "YourReference": document.reference, "EuThirdParty": False, "RotReducedInvoicingType": 0,
                    "Rows": rows}
            return PushResult(remote_id=_id(client.request("POST", "/v2/customerinvoices", json=body),
                                            "POST /v2/customerinvoices"))
        entry = require_accounts(payment_as_journal(document) if isinstance(document, InvoicePayment) else document)
        body = {"VoucherDate": entry.entry_date.isoformat(), "VoucherText": _voucher_text(entry),
                "VoucherType": MANUAL_VOUCHER,
                "Rows": [{"AccountNumber": int(line.account), "DebitAmount": float(line.debit),
                          "CreditAmount": float(line.credit), "TransactionText": line.description[:60]}
                         for line in entry.lines]}
        return PushResult(remote_id=_id(client.request("POST", "/v2/vouchers", json=body), "POST /v2/vouchers"))


def find_document(config: Config, document: Document) -> str | None:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            rows = _data(client.request("GET", "/v2/customerinvoices", params={
                "$filter": f"YourReference eq '{_odata(document.reference)}'"}), "GET /v2/customerinvoices")
        else:
            entry = payment_as_journal(document) if isinstance(document, InvoicePayment) else document
            rows = _data(client.request("GET", "/v2/vouchers", params={
                "$filter": f"VoucherText eq '{_odata(_voucher_text(entry))}'"}), "GET /v2/vouchers")
    return str(rows[0]["Id"]) if rows else None
