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

from adapters.errors import ProviderError, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.http_pool import LentClient, pooled_client
from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    VerificationSecrets,
    from_iso8601,
    json_body,
    require,
    stable_event_id,
)
from adapters.signing import standard_webhooks_verify
from adapters.sync_types import Document, InvoicePayment, JournalEntry, PushResult, SalesInvoice
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


# --- pushes from the hub (sync): invoices, invoice payments, vouchers -------------------------
# Docs (https://apps.fortnox.se/apidocs): Invoices (POST /3/invoices; the list searches
# `externalinvoicereference1`), Customers (POST /3/customers), InvoicePayments
# (POST/GET /3/invoicepayments, searchable by `invoicenumber`), Vouchers (POST /3/vouchers; the
# list takes `fromdate`/`todate`). Search parameters match like ILIKE
# (https://www.fortnox.se/developer/guides-and-good-to-know/parameters), so hits are compared
# exactly before they are trusted.
# - The hub's reference travels as ExternalInvoiceReference1 on invoices and inside each
#   voucher's Description and rows' TransactionInformation; a resumed run finds them by it.
# - Fortnox numbers customers itself unless told; the hub sends its customer number, and an
#   invoice for a customer Fortnox does not know (code 2000433) creates the customer first.
# - Invoice rows take the BAS account, the quantity, the price excluding VAT and the VAT rate.

CUSTOMER_NOT_FOUND = "2000433"
VOUCHER_SERIES = "A"  # the manual bookkeeping series every Fortnox company has


def _push_client(config: Config) -> LentClient:
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, classify_error=_error_code,
                         headers={"Authorization": f"Bearer {config.access_token}", "Accept": "application/json"})


def _error_code(response, error: ProviderError) -> ProviderError:
    """Carry Fortnox's ErrorInformation.code on the typed error, so callers can branch on it."""
    try:
        error.code = str(response.json()["ErrorInformation"]["code"])
    except (ValueError, KeyError, TypeError):
        pass
    return error


def _body(response, name: str) -> dict:
    try:
        found = response.json()[name]
    except (ValueError, KeyError, TypeError):
        found = None
    if not isinstance(found, dict):
        raise ProviderUnavailable(f"fortnox: the answer carries no {name}", provider=key, code="malformed_response")
    return found


def push_document(config: Config, document: Document) -> PushResult:
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            return _push_invoice(client, document)
        if isinstance(document, InvoicePayment):
            payment = _body(client.request("POST", "/3/invoicepayments", json={"InvoicePayment": {
                "InvoiceNumber": int(document.invoice_remote_id), "Amount": float(document.amount),
                "PaymentDate": document.paid_on.isoformat()}}), "InvoicePayment")
            return PushResult(remote_id=str(payment["Number"]))
        if isinstance(document, JournalEntry):
            voucher = _body(client.request("POST", "/3/vouchers", json={"Voucher": _voucher(document)}), "Voucher")
            return PushResult(remote_id=f"{voucher['VoucherSeries']}-{voucher['VoucherNumber']}")
    raise TypeError(f"Fortnox takes invoices, payments and journal entries, not {type(document).__name__}")


def _push_invoice(client: LentClient, invoice: SalesInvoice) -> PushResult:
    body = {"Invoice": {
        "CustomerNumber": invoice.customer.number, "InvoiceDate": invoice.issue_date.isoformat(),
        "DueDate": invoice.due_date.isoformat(), "Currency": invoice.currency,
        "ExternalInvoiceReference1": invoice.reference,
        "InvoiceRows": [{"AccountNumber": int(line.account), "Description": line.description[:50],
                         "DeliveredQuantity": float(line.quantity), "Price": float(line.unit_price),
                         "VAT": float(line.vat_rate)} for line in invoice.lines]}}
    try:
        response = client.request("POST", "/3/invoices", json=body)
    except ProviderRejected as exc:
        if exc.code != CUSTOMER_NOT_FOUND:
            raise
        customer = {"CustomerNumber": invoice.customer.number, "Name": invoice.customer.name[:1024]}
        if invoice.customer.email:
            customer["Email"] = invoice.customer.email
        if invoice.customer.organisation_number:
            customer["OrganisationNumber"] = invoice.customer.organisation_number
        client.request("POST", "/3/customers", json={"Customer": customer})
        response = client.request("POST", "/3/invoices", json=body)
    return PushResult(remote_id=str(_body(response, "Invoice")["DocumentNumber"]))


def _voucher(entry: JournalEntry) -> dict:
    return {"VoucherSeries": VOUCHER_SERIES, "TransactionDate": entry.entry_date.isoformat(),
            "Description": f"{entry.description[:180]} ({entry.reference})",
            "VoucherRows": [{"Account": int(line.account), "Debit": float(line.debit), "Credit": float(line.credit),
                             "TransactionInformation": entry.reference} for line in entry.lines]}


def find_document(config: Config, document: Document) -> str | None:
    """The Fortnox id of a document an interrupted push may have created, found by its reference."""
    with _push_client(config) as client:
        if isinstance(document, SalesInvoice):
            rows = _list(client, "/3/invoices", "Invoices", {"externalinvoicereference1": document.reference})
            hit = next((row for row in rows if row.get("ExternalInvoiceReference1") == document.reference), None)
            return str(hit["DocumentNumber"]) if hit else None
        if isinstance(document, InvoicePayment):
            rows = _list(client, "/3/invoicepayments", "InvoicePayments",
                         {"invoicenumber": document.invoice_remote_id})
            hit = next((row for row in rows if str(row.get("InvoiceNumber")) == document.invoice_remote_id
                        and str(row.get("PaymentDate")) == document.paid_on.isoformat()
                        and float(row.get("Amount") or 0) == float(document.amount)), None)
            return str(hit["Number"]) if hit else None
        if isinstance(document, JournalEntry):
            day = document.entry_date.isoformat()
            rows = _list(client, "/3/vouchers", "Vouchers", {"fromdate": day, "todate": day})
            marker = f"({document.reference})"
            hit = next((row for row in rows if str(row.get("Description", "")).endswith(marker)), None)
            return f"{hit['VoucherSeries']}-{hit['VoucherNumber']}" if hit else None
    raise TypeError(f"Fortnox has no lookup for {type(document).__name__}")


def _list(client: LentClient, path: str, name: str, params: dict) -> list[dict]:
    try:
        rows = client.request("GET", path, params=params).json()[name]
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable(f"fortnox: GET {path} answered without {name}", provider=key,
                                  code="malformed_response") from None
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


# --- change notifications (inbound) -------------------------------------------------------------
# Fortnox announces changes on its WebSocket API (wss://ws.fortnox.se/topics-v1), not with HTTP
# webhooks: https://www.fortnox.se/developer/guides-and-good-to-know/websockets. Each message
# names what changed, not how: {"topic": "invoices", "offset", "type": "invoice-created-v1",
# "tenantId", "entityId", "timestamp", "year", "series"}. A relay subscribed to the topics posts
# the messages unchanged (one object or a list) to /webhooks/fortnox/<config id>/, signed with
# the Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature) under the
# config's webhook signing key. Delivery is at-least-once; `offset` is unique per tenant and
# topic, so it names the event.

# "<entity>-<operation>-v1": created and updated records are changes the sync cares about.
EVENT_TYPES: dict[str, EventType] = {
    f"{entity}-{operation}-v1": EventType.RECORD_CHANGED
    for entity in ("invoice", "invoicepayment", "voucher", "customer")
    for operation in ("created", "updated")
}


def verify(request: InboundRequest, secrets: VerificationSecrets, *, now: float | None = None,
           tolerance_seconds: int = 300) -> None:
    standard_webhooks_verify(
        msg_id=request.headers.get("webhook-id"), timestamp=request.headers.get("webhook-timestamp"),
        signature_header=request.headers.get("webhook-signature"), body=request.body, secret=secrets.signing_key,
        public_key=secrets.public_key, now=now, tolerance_seconds=tolerance_seconds)


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    return None  # the relay needs no subscription handshake


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_body(request)
    messages = payload if isinstance(payload, list) else [payload]
    return [_event(message, position) for position, message in enumerate(messages)]


def _event(message: object, position: int) -> InboundEvent:
    where = f"message {position}"
    if not isinstance(message, dict):
        raise MalformedPayload(f"{where} is not an object")
    topic = require(message, "topic", where=where)
    vendor_type = require(message, "type", where=where)
    offset = require(message, "offset", where=where)
    entity_id = message.get("entityId")
    if not isinstance(entity_id, (str, int)) or isinstance(entity_id, bool):
        raise MalformedPayload(f"{where}: entityId must be a string or number")
    tenant = message.get("tenantId")
    return InboundEvent(
        type=EVENT_TYPES.get(vendor_type, EventType.UNKNOWN),
        external_id=stable_event_id("fortnox", tenant, topic, offset),
        occurred_at=from_iso8601(require(message, "timestamp", where=where), name="timestamp"),
        # Vouchers are numbered per series; the hub knows them as "<series>-<number>".
        subject_id=f"{message['series']}-{entity_id}" if message.get("series") else str(entity_id),
        raw=message, vendor_type=vendor_type[:100],
        details={"topic": topic, "category": topic.rstrip("s"), "tenant_id": tenant},
    )
