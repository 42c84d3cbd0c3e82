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
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import Document, InvoicePayment, JournalEntry, Party, PushResult, SalesInvoice
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


# --- pushes from the hub (sync) ---------------------------------------------------------------
# Entities (https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/):
# Invoice (SalesItemLineDetail lines), Payment (Line.LinkedTxn to the invoice), JournalEntry
# (JournalEntryLineDetail lines, Debit/Credit), Customer and Vendor; reads through
# GET /query?query=select ...
# (https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries).
# Quirks:
# - A QuickBooks invoice line posts to the income account of its *item*, not to an account
#   directly, so for QuickBooks the chart-of-accounts mapping names, per category, the Item Id
#   of the service item booked to that income account. Journal entries post to accounts: the
#   mapping's expense, bank and VAT categories name Account Ids.
# - Customers and vendors are named by Id; `find_party` finds them by DisplayName, `create_party` adds them.
# - DocNumber (21 characters) carries the hub's reference on invoices and journal entries,
#   PaymentRefNum on payments; a resumed run queries by them.
# - Tax: US companies take TaxCodeRef "TAX"/"NON" per line; the rate comes from the company's
#   tax setup (Automated Sales Tax), so the hub's rate only decides taxable or not.

_QUERY_ENTITY = {"invoice": "Invoice", "payment": "Payment", "journalentry": "JournalEntry"}


def _push_client(config: Config) -> LentClient:
    if not REALM_ID.fullmatch(config.realm_id):
        raise ProviderRejected(f"'{config.realm_id}' is not a QuickBooks realm id (digits only)", provider=key,
                               code="invalid_realm_id")
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, headers={
        "Authorization": f"Bearer {config.access_token}", "Accept": "application/json"})


def _create(client: LentClient, config: Config, entity: str, body: dict) -> dict:
    response = client.request("POST", f"/v3/company/{config.realm_id}/{entity}", json=body,
                              params={"minorversion": MINOR_VERSION})
    try:
        return response.json()[_QUERY_ENTITY.get(entity, entity.capitalize())]
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(f"quickbooks: POST {entity} answered without the {entity}", provider=key,
                                  code="malformed_response") from None


def _query(client: LentClient, config: Config, entity: str, field: str, value: str) -> str | None:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    response = client.request("GET", f"/v3/company/{config.realm_id}/query", params={
        "query": f"select Id from {entity} where {field} = '{escaped}'", "minorversion": MINOR_VERSION})
    try:
        rows = response.json()["QueryResponse"].get(entity) or []
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ProviderUnavailable("quickbooks: the query answered without QueryResponse", provider=key,
                                  code="malformed_response") from None
    return str(rows[0]["Id"]) if rows else None


PARTY_ROLES = ("customer", "supplier")  # invoices and payments name customers, payable lines vendors


def find_party(config: Config, party: Party, role: str) -> str | None:
    with _push_client(config) as client:
        return _query(client, config, "Vendor" if role == "supplier" else "Customer", "DisplayName", party.name[:100])


def create_party(config: Config, party: Party, role: str) -> str:
    body = {"DisplayName": party.name[:100], "CompanyName": party.name[:100]}
    if party.email:
        body["PrimaryEmailAddr"] = {"Address": party.email}
    with _push_client(config) as client:
        return str(_create(client, config, "vendor" if role == "supplier" else "customer", body)["Id"])


def push_document(config: Config, document: Document) -> PushResult:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            lines = [{"DetailType": "SalesItemLineDetail", "Amount": float(line.net), "Description": line.description,
                      "SalesItemLineDetail": {"ItemRef": {"value": line.account}, "Qty": float(line.quantity),
                                              "UnitPrice": float(line.unit_price),
                                              "TaxCodeRef": {"value": "TAX" if line.vat_rate else "NON"}}}
                     for line in document.lines]
            body = {"DocNumber": document.reference[:21], "CustomerRef": {"value": document.customer.number},
                    "TxnDate": document.issue_date.isoformat(), "DueDate": document.due_date.isoformat(),
                    "CurrencyRef": {"value": document.currency}, "Line": lines}
            return PushResult(remote_id=str(_create(client, config, "invoice", body)["Id"]))
        if isinstance(document, InvoicePayment):
            body = {"CustomerRef": {"value": document.customer.number}, "TotalAmt": float(document.amount),
                    "TxnDate": document.paid_on.isoformat(), "PaymentRefNum": document.reference[:21],
                    "DepositToAccountRef": {"value": document.bank_account},
                    "Line": [{"Amount": float(document.amount), "LinkedTxn": [
                        {"TxnId": document.invoice_remote_id, "TxnType": "Invoice"}]}]}
            return PushResult(remote_id=str(_create(client, config, "payment", body)["Id"]))
        if isinstance(document, JournalEntry):
            body = {"DocNumber": document.reference[:21], "TxnDate": document.entry_date.isoformat(),
                    "PrivateNote": document.description[:4000], "Line": [_journal_line(document, line)
                                                                        for line in document.lines]}
            return PushResult(remote_id=str(_create(client, config, "journalentry", body)["Id"]))
    raise TypeError(f"QuickBooks takes invoices, payments and journal entries, not {type(document).__name__}")


def _journal_line(entry: JournalEntry, line) -> dict:
    debit = line.debit > 0
    detail = {"PostingType": "Debit" if debit else "Credit", "AccountRef": {"value": line.account}}
    if not debit and entry.payee is not None and entry.payee.number:
        # The credit side owes the payee: QuickBooks wants the vendor on payable lines.
        detail["Entity"] = {"Type": "Vendor", "EntityRef": {"value": entry.payee.number}}
    return {"DetailType": "JournalEntryLineDetail", "Amount": float(line.debit if debit else line.credit),
            "Description": line.description or entry.description, "JournalEntryLineDetail": detail}


def find_document(config: Config, document: Document) -> str | None:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            return _query(client, config, "Invoice", "DocNumber", document.reference[:21])
        if isinstance(document, InvoicePayment):
            return _query(client, config, "Payment", "PaymentRefNum", document.reference[:21])
        return _query(client, config, "JournalEntry", "DocNumber", document.reference[:21])
