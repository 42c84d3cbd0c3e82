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
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import Document, InvoicePayment, JournalEntry, PushResult, SalesInvoice, require_accounts
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


# --- pushes from the hub (sync) ---------------------------------------------------------------
# From the Visma.net ERP API reference (https://api.finance.visma.net/API-index/index.html):
# POST /v1/customerInvoice, POST /v1/customerPayment, POST /v1/journalTransaction. Field values
# are wrapped as {"value": ...} (the API's DtoValueOf types); a create answers 201 with the new
# document's number at the end of its Location header.
# - Invoice lines take the mapped `accountNumber`; their VAT category comes from the account's
#   default, as set up in the company.
# - Payments apply to the invoice by its reference number (`refNbr`), into the mapped bank
#   (`cashAccount`).
# - The hub's reference is the invoice's customerRefNumber, the payment's paymentRef and the
#   journal transaction's description suffix; the list endpoints filter on those.


def _value(value) -> dict:
    return {"value": value}


def _push_client(config: Config) -> LentClient:
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, headers={
        "Authorization": f"Bearer {config.access_token}", "Accept": "application/json"})


def _created_id(response, where: str) -> str:
    location = response.headers.get("Location", "").rstrip("/")
    if not location:
        raise ProviderUnavailable(f"visma_net: {where} answered without a Location", provider=key,
                                  code="malformed_response")
    return location.rsplit("/", 1)[-1]


def _journal_description(entry: JournalEntry) -> str:
    return f"{entry.description[:200]} ({entry.reference})"


def push_document(config: Config, document: Document) -> PushResult:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            body = {"customerNumber": _value(document.customer.number),
                    "documentDate": _value(document.issue_date.isoformat()),
                    "dueDate": _value(document.due_date.isoformat()), "currencyId": _value(document.currency),
                    "customerRefNumber": _value(document.reference),
                    "invoiceLines": [{"description": _value(line.description), "quantity": _value(float(line.quantity)),
                                      "unitPriceInCurrency": _value(float(line.unit_price)),
                                      "accountNumber": _value(line.account)} for line in document.lines]}
            return PushResult(remote_id=_created_id(client.request("POST", "/v1/customerInvoice", json=body),
                                                    "POST /v1/customerInvoice"))
        if isinstance(document, InvoicePayment):
            body = {"type": _value("Payment"), "customer": _value(document.customer.number),
                    "applicationDate": _value(document.paid_on.isoformat()), "paymentRef": _value(document.reference),
                    "paymentAmount": _value(float(document.amount)), "cashAccount": _value(document.bank_account),
                    "currencyId": _value(document.currency),
                    "paymentLines": [{"documentType": _value("Invoice"), "refNbr": _value(document.invoice_remote_id),
                                      "amountPaid": _value(float(document.amount))}]}
            return PushResult(remote_id=_created_id(client.request("POST", "/v1/customerPayment", json=body),
                                                    "POST /v1/customerPayment"))
        entry = require_accounts(document)
        body = {"transactionDate": _value(entry.entry_date.isoformat()),
                "description": _value(_journal_description(entry)), "currencyId": _value(entry.currency),
                "journalTransactionLines": [{"accountNumber": _value(line.account),
                                             "debitAmountInCurrency": _value(float(line.debit)),
                                             "creditAmountInCurrency": _value(float(line.credit)),
                                             "transactionDescription": _value(line.description[:255])}
                                            for line in entry.lines]}
        return PushResult(remote_id=_created_id(client.request("POST", "/v1/journalTransaction", json=body),
                                                "POST /v1/journalTransaction"))


def find_document(config: Config, document: Document) -> str | None:
    if isinstance(document, SalesInvoice):
        path, params, id_field = "/v1/customerInvoice", {"customerRefNumber": document.reference}, "referenceNumber"
    elif isinstance(document, InvoicePayment):
        path, params, id_field = "/v1/customerPayment", {"paymentRef": document.reference}, "refNbr"
    else:
        path, id_field = "/v1/journalTransaction", "batchNumber"
        params = {"transactionDate": document.entry_date.isoformat()}
    with _push_client(config) as client:
        try:
            rows = client.request("GET", path, params=params).json()
        except ValueError:
            raise ProviderUnavailable(f"visma_net: GET {path} is not JSON", provider=key,
                                      code="malformed_response") from None
    rows = [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []
    if isinstance(document, JournalEntry):
        rows = [row for row in rows if row.get("description") == _journal_description(document)]
    return str(rows[0][id_field]) if rows and rows[0].get(id_field) else None
