"""Xero webhooks: Intent to Receive, verification and event parsing.

Docs: https://developer.xero.com/documentation/guides/webhooks/overview ; payload schema:
tests/sandboxes/specs/xero-webhooks.json (`WebhookEvent`, `CreditNoteWebhookEvent`).
- `x-xero-signature` is the base64 (not hex) HMAC-SHA256 of the raw body keyed with the
  app's webhook key.
- Intent to Receive: when a webhook is saved, Xero posts bodies with an empty `events`
  list, some deliberately mis-signed, and expects 200 with an empty body for the good ones
  and 401 for the bad ones within 5 seconds. `handshake` answers those; every later
  delivery must follow the same rule, so the view must map SignatureInvalid to 401 here.
- Events are notifications only (fetch `resourceUrl` for the data). There is no event id:
  `external_id` digests (tenantId, eventCategory, resourceId, eventType, eventDateUtc).
  `eventDateUtc` has no offset and is UTC.

Accounting API (pre-flight validation), from the Xero OpenAPI descriptions
(tests/sandboxes/specs/xero-accounting.json; identity: XeroAPI/Xero-OpenAPI xero-identity.yaml):
- OAuth2 authorization code flow: https://developer.xero.com/documentation/guides/oauth2/auth-flow
  (the endpoints and client authentication are in adapters/oauth.py).
- GET https://api.xero.com/Connections lists the organisations (tenants) the token may use;
  every accounting call then names one in the `xero-tenant-id` header.
- GET /api.xro/2.0/Accounts?where=Status=="ACTIVE" is the chart of accounts: cheap, read-only,
  and lets validation check the account codes the tenant mapped.
- Xero has no sandbox host; "Demo Company" organisations live on the same API.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.http_pool import LentClient, pooled_client
from adapters.inbound import (
    EventType,
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationSecrets,
    drop_empty,
    from_iso8601,
    json_object_body,
    nested,
    require,
    stable_event_id,
)
from adapters.signing import constant_time_equals, hmac_sha256_base64, require_secret
from adapters.sync_types import Document, InvoicePayment, JournalEntry, Party, PushResult, SalesInvoice
from adapters.types import ValidationResult

key = "xero"
display_name = "Xero"
SIGNATURE_HEADER = "x-xero-signature"

# vendor_type is "<eventCategory>.<eventType>"; categories and types as in the spec's enums.
EVENT_TYPES: dict[str, EventType] = {
    f"{category}.{operation}": EventType.RECORD_CHANGED
    for category in ("CONTACT", "INVOICE", "CREDITNOTE", "SUBSCRIPTION")
    for operation in ("CREATE", "UPDATE")
}


def verify(request: InboundRequest, secrets: VerificationSecrets, *, now: float | None = None,
           tolerance_seconds: int = 300) -> None:
    """`now`/`tolerance_seconds` are accepted for a uniform interface; Xero signs no time."""
    given = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header is missing")
    webhook_key = require_secret(secrets.signing_key, "Xero webhook key")
    if not constant_time_equals(hmac_sha256_base64(webhook_key, request.body), given):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")


def handshake(request: InboundRequest,
              secrets: VerificationSecrets) -> tuple[int, dict, bytes] | None:
    """Answer an Intent to Receive delivery (an empty `events` list): 200 when correctly
    signed, 401 otherwise, both with an empty body. None for anything else."""
    if request.method.upper() != "POST":
        return None
    try:
        payload = json.loads(request.body)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("events") != []:
        return None
    try:
        verify(request, secrets)
    except SignatureInvalid:
        return 401, {}, b""
    return 200, {}, b""


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_object_body(request)
    events = require(payload, "events", list)
    return [_event(item, position) for position, item in enumerate(events)]


def _event(item: object, position: int) -> InboundEvent:
    where = f"event {position}"
    if not isinstance(item, dict):
        raise MalformedPayload(f"{where} is not an object")
    category = require(item, "eventCategory", where=where)
    operation = require(item, "eventType", where=where)
    resource_id = require(item, "resourceId", where=where)
    tenant_id = require(item, "tenantId", where=where)
    event_date = require(item, "eventDateUtc", where=where)
    vendor_type = f"{category}.{operation}"
    data = nested(item, "data")
    details = {
        "category": category.lower(),
        "operation": operation.lower(),
        "resource_url": item.get("resourceUrl"),
        "tenant_id": tenant_id,
        "tenant_type": item.get("tenantType"),
        "credit_note_type": data.get("Type"),
        "credit_note_status": data.get("Status"),
    }
    return InboundEvent(
        type=EVENT_TYPES.get(vendor_type, EventType.UNKNOWN),
        external_id=stable_event_id("xero", tenant_id, category, resource_id, operation, event_date),
        occurred_at=from_iso8601(event_date, name="eventDateUtc"),
        subject_id=resource_id,
        raw=item,
        vendor_type=vendor_type,
        details=drop_empty(details),
    )


# --- accounting API: pre-flight validation --------------------------------------------------

API_URL = "https://api.xero.com"
ACCOUNTING_PATH = "/api.xro/2.0"


def base_url(*, sandbox: bool = False) -> str:
    """Identity and accounting share api.xero.com; PROVIDER_XERO_BASE_URL overrides it."""
    return provider_base_url(key, API_URL)


@dataclass(frozen=True)
class Config:
    access_token: str
    tenant_id: str
    account_codes: tuple[str, ...] = ()  # codes the chart-of-accounts mapping uses
    base_url: str = field(default_factory=base_url)
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    """The tenant is connected to this app, and every mapped account code is an active account."""
    headers = {"Authorization": f"Bearer {config.access_token}", "Accept": "application/json"}
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers=headers) as client:
        connections = _json(client.request("GET", "/Connections"), "GET /Connections", list)
        tenant = next((c for c in connections if isinstance(c, dict) and c.get("tenantId") == config.tenant_id), None)
        if tenant is None:
            names = ", ".join(sorted(str(c.get("tenantName")) for c in connections if isinstance(c, dict))) or "none"
            raise ProviderRejected(f"Xero tenant {config.tenant_id} is not connected to this app "
                                   f"(connected organisations: {names})", provider=key, code="tenant_not_connected")
        accounts = _json(client.request("GET", f"{ACCOUNTING_PATH}/Accounts", params={"where": 'Status=="ACTIVE"'},
                                        headers={"xero-tenant-id": config.tenant_id}), "GET /Accounts", dict)
    codes = {a.get("Code") for a in accounts.get("Accounts") or [] if isinstance(a, dict)}
    missing = sorted(set(config.account_codes) - codes)
    if missing:
        raise ProviderRejected(f"account codes not among the active accounts of {tenant.get('tenantName')}: "
                               f"{', '.join(missing)}", provider=key, code="unknown_account_codes")
    return ValidationResult(message=f"connected to Xero organisation {tenant.get('tenantName')} "
                                    f"({len(codes)} active accounts)",
                            details={"tenant_name": tenant.get("tenantName"), "active_accounts": len(codes)})


def _json(response, where: str, expected: type):
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, expected):
        raise ProviderUnavailable(f"xero: {where} answered {response.status_code} without the expected JSON "
                                  f"{expected.__name__}", provider=key, code="malformed_response")
    return body


# --- pushes from the hub (sync) ---------------------------------------------------------------
# From xero-accounting.json: PUT /Invoices and PUT /Payments create ({"Invoices": [...]},
# {"Payments": [...]}), GET with `where` finds them again, and every write takes an
# `Idempotency-Key` (128 characters at most) under which Xero replays the first answer, so a
# push retried after a lost answer does not create twice
# (https://developer.xero.com/documentation/guides/idempotent-requests/idempotency/).
# - Sales invoices are ACCREC, AUTHORISED, with line amounts exclusive of tax and each line's
#   tax given as TaxAmount, on the mapped AccountCode. Contacts are matched or created by Name.
# - Expenses and reimbursements are bills (ACCPAY invoices) to the payee: Xero's accounting
#   description has no manual journals, and a bill is how Xero books a supplier's expense.
# - The hub's reference is the document's Reference, which `where` searches.


def _push_client(config: Config) -> LentClient:
    return pooled_client(key, config.base_url, timeout=config.timeout_seconds, headers={
        "Authorization": f"Bearer {config.access_token}", "Accept": "application/json",
        "xero-tenant-id": config.tenant_id})


def _contact(party) -> dict:
    contact = {"Name": party.name[:255]}
    if party.number:
        contact["ContactNumber"] = party.number[:50]
    if party.email:
        contact["EmailAddress"] = party.email
    return contact


def _invoice_body(document) -> dict:
    if isinstance(document, SalesInvoice):
        items = [{"Description": line.description, "Quantity": float(line.quantity),
                  "UnitAmount": float(line.unit_price), "AccountCode": line.account, "TaxAmount": float(line.vat)}
                 for line in document.lines]
        return {"Type": "ACCREC", "Contact": _contact(document.customer), "Date": document.issue_date.isoformat(),
                "DueDate": document.due_date.isoformat(), "Reference": document.reference,
                "CurrencyCode": document.currency, "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
                "LineItems": items}
    vat = sum((line.debit for line in document.lines if line.is_vat), Decimal("0"))
    costs = [line for line in document.lines if line.debit and not line.is_vat]
    items = [{"Description": line.description or document.description, "Quantity": 1.0,
              "UnitAmount": float(line.debit), "AccountCode": line.account,
              "TaxAmount": float(vat) if position == 0 else 0.0} for position, line in enumerate(costs)]
    payee = document.payee or Party(number="", name=document.description[:255])
    return {"Type": "ACCPAY", "Contact": _contact(payee), "Date": document.entry_date.isoformat(),
            "DueDate": document.entry_date.isoformat(), "Reference": document.reference,
            "CurrencyCode": document.currency, "LineAmountTypes": "Exclusive", "Status": "AUTHORISED",
            "LineItems": items}


def push_document(config: Config, document: Document) -> PushResult:
    idempotency = {"Idempotency-Key": f"hub-{document.reference}"[:128]}
    with _push_client(config) as client:
        if isinstance(document, InvoicePayment):
            body = {"Payments": [{"Invoice": {"InvoiceID": document.invoice_remote_id},
                                  "Account": {"Code": document.bank_account}, "Date": document.paid_on.isoformat(),
                                  "Amount": float(document.amount), "Reference": document.reference}]}
            answer = _json(client.request("PUT", f"{ACCOUNTING_PATH}/Payments", json=body, headers=idempotency),
                           "PUT /Payments", dict)
            return PushResult(remote_id=str(_first(answer, "Payments")["PaymentID"]))
        if isinstance(document, (SalesInvoice, JournalEntry)):
            answer = _json(client.request("PUT", f"{ACCOUNTING_PATH}/Invoices", headers=idempotency,
                                          json={"Invoices": [_invoice_body(document)]}), "PUT /Invoices", dict)
            return PushResult(remote_id=str(_first(answer, "Invoices")["InvoiceID"]))
    raise TypeError(f"Xero takes invoices, payments and journal entries, not {type(document).__name__}")


def find_document(config: Config, document: Document) -> str | None:
    collection, id_field = ("Payments", "PaymentID") if isinstance(document, InvoicePayment) else (
        "Invoices", "InvoiceID")
    where = 'Reference=="{}"'.format(document.reference.replace('"', '\\"'))
    with _push_client(config) as client:
        answer = _json(client.request("GET", f"{ACCOUNTING_PATH}/{collection}", params={"where": where}),
                       f"GET /{collection}", dict)
    rows = [row for row in answer.get(collection) or [] if isinstance(row, dict)
            and row.get("Reference") == document.reference]
    return str(rows[0][id_field]) if rows else None


def _first(answer: dict, collection: str) -> dict:
    rows = answer.get(collection)
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        raise ProviderUnavailable(f"xero: the answer carries no {collection}", provider=key, code="malformed_response")
    return rows[0]
