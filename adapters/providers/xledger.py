"""Xledger (Nordic ERP), through its GraphQL API with an API token.

Docs:
- API tokens and environments: https://xledgerukinternal.zendesk.com/hc/en-us/articles/23682919258514
  (demo https://demo.xledger.net/graphql, live https://www.xledger.net/graphql)
- GraphQL usage notes (owner entity of a token, mass mutations):
  https://xledgerukinternal.zendesk.com/hc/en-us/articles/8715787519634-GraphQL-general-tips
- Xledger's own client sample, header `Authorization: token <token>` and error codes:
  https://github.com/xledger/graphql-samples (Webhooks-CSharp/GraphQL/GraphQLClient.cs)
Quirks:
- The schema is only published by introspection of the service itself (see
  tests/sandboxes/specs/SOURCES.md); there is no file to vendor.
- GraphQL answers 200 with an `errors` array for query problems and for limits:
  `BAD_REQUEST.BURST_RATE_LIMIT_REACHED` (short-term burst limit) and
  `BAD_REQUEST.INSUFFICIENT_CREDITS` (the entity's request credits are used up).
- A token belongs to the entity it was generated in and reaches its sub-entities; the
  integration's `company_id` is that entity's code, recorded for pushes, not needed to read.
- Demo tokens work on demo only; a live token reaches demo after the next demo refresh.
"""
from __future__ import annotations

from dataclasses import dataclass

from adapters.errors import ProviderRateLimited, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.sync_types import (
    Document,
    InvoicePayment,
    JournalEntry,
    PushResult,
    SalesInvoice,
    invoice_as_journal,
    payment_as_journal,
    require_accounts,
)
from adapters.types import ValidationResult

key = "xledger"
display_name = "Xledger"

LIVE_API_URL = "https://www.xledger.net"
SANDBOX_API_URL = "https://demo.xledger.net"
# Reading one customer needs only the Customer read scope, which any invoicing integration has.
VALIDATION_QUERY = "query HubValidation { customers(first: 1) { edges { node { dbId } } } }"
_RATE_LIMITED_CODES = {"BAD_REQUEST.BURST_RATE_LIMIT_REACHED"}


def base_url(*, sandbox: bool = False) -> str:
    return provider_base_url(key, SANDBOX_API_URL if sandbox else LIVE_API_URL)


@dataclass(frozen=True)
class Config:
    api_token: str
    base_url: str
    timeout_seconds: float = 10.0


def execute(config: Config, query: str, variables: dict | None = None) -> dict:
    """POST one GraphQL operation; return its `data`, or raise the typed error for its `errors`."""
    headers = {"Authorization": f"token {config.api_token}", "Accept": "application/json"}
    with ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers=headers) as client:
        response = client.request("POST", "/graphql", json={"query": query, "variables": variables or {}})
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable("xledger: POST /graphql answered without a JSON object", provider=key,
                                  code="malformed_response")
    errors = body.get("errors") or []
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("code") or (first.get("extensions") or {}).get("code") or "")
        message = f"xledger: {first.get('message') or 'GraphQL error'}" + (f" ({code})" if code else "")
        if code in _RATE_LIMITED_CODES:
            raise ProviderRateLimited(message, provider=key, code=code)
        raise ProviderRejected(message, provider=key, code=code or "graphql_error")
    return body.get("data") or {}


def validate(config: Config) -> ValidationResult:
    data = execute(config, VALIDATION_QUERY)
    if not isinstance(data.get("customers"), dict):
        raise ProviderUnavailable("xledger: the validation query answered without customers", provider=key,
                                  code="malformed_response")
    return ValidationResult(message="authenticated with Xledger (customers readable)", details={})


# --- pushes from the hub (sync): GL import items over GraphQL ---------------------------------
# Xledger offers GraphQL and, for older integrations, SOAP web services; the hub uses GraphQL
# (https://xledgerukinternal.zendesk.com/hc/en-us/articles/8715787519634-GraphQL-general-tips).
# Everything is imported as general-ledger lines with the `addGLImportItems` mutation, one
# AddGLImportItemsInput node per line of a balanced entry (postedDate, account {code}, amount
# signed: debits positive, credits negative, currency {code}, text, yourReference,
# transactionSource {code}), so approved reimbursements and expenses land as accounting
# entries and invoices and payments as customer ledger entries. The node fields follow
# Xledger's GraphQL schema as its own samples and public clients use it
# (https://github.com/xledger/graphql-samples). The hub's reference is `yourReference`; a
# resumed run reads `glImportItems` filtered on it before importing again.

PUSH_MUTATION = ("mutation HubImport($inputs: [AddGLImportItemsInput!]!) { "
                 "addGLImportItems(inputs: $inputs) { edges { node { dbId } } } }")
FIND_QUERY = ("query HubFind($reference: String!) { "
              "glImportItems(first: 1, filter: { yourReference: $reference }) { edges { node { dbId } } } }")
_SOURCES = {"invoice": "AR", "payment": "AR"}  # customer ledger; the rest is general ledger ("GL")


def _entry(document: Document) -> JournalEntry:
    if isinstance(document, SalesInvoice):
        return require_accounts(invoice_as_journal(document))
    if isinstance(document, InvoicePayment):
        return require_accounts(payment_as_journal(document))
    return require_accounts(document)


def push_document(config: Config, document: Document) -> PushResult:
    entry = _entry(document)
    source = _SOURCES.get(entry.kind, "GL")
    inputs = [{"node": {"postedDate": entry.entry_date.isoformat(), "account": {"code": line.account},
                        "amount": float(line.debit - line.credit), "currency": {"code": entry.currency},
                        "text": (line.description or entry.description)[:250], "yourReference": entry.reference,
                        "transactionSource": {"code": source}}} for line in entry.lines]
    data = execute(config, PUSH_MUTATION, {"inputs": inputs})
    edges = ((data.get("addGLImportItems") or {}).get("edges") or []) if isinstance(data, dict) else []
    if not edges or not isinstance(edges[0], dict):
        raise ProviderUnavailable("xledger: addGLImportItems answered without items", provider=key,
                                  code="malformed_response")
    return PushResult(remote_id=str(edges[0]["node"]["dbId"]), details={"lines": len(edges)})


def find_document(config: Config, document: Document) -> str | None:
    data = execute(config, FIND_QUERY, {"reference": _entry(document).reference})
    edges = ((data.get("glImportItems") or {}).get("edges") or []) if isinstance(data, dict) else []
    return str(edges[0]["node"]["dbId"]) if edges else None
