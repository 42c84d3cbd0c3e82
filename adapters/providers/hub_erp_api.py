"""Third-party ERPs over the hub's ERP interface (docs/provider-interfaces/erp.openapi.json).

An outside integrator implements the interface and the tenant registers it (base URL, API key
ref, capabilities) as a ThirdPartyProvider: a new ERP needs no code in the hub. The rules:
- `Authorization: Bearer <api key>`; errors are RFC 9457 problem documents.
- Every record is written with `PUT /v1/<collection>/<hub reference>`: the reference is the
  record's identity, so a repeated PUT (a retry, a resumed run) updates instead of duplicating.
  201 means created, 200 updated; both answer {"id", "updated_at"}.
- `GET /v1/<collection>/<hub reference>` answers the stored record or 404.
- `GET /v1/status` names the provider and the collections it accepts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import Document, InvoicePayment, JournalEntry, MemberRecord, PushResult, SalesInvoice
from adapters.types import ValidationResult

key = "hub_erp_api"
display_name = "ERP (hub ERP interface)"
INTERFACE_VERSION = "1.0.0"


@dataclass(frozen=True)
class Config:
    base_url: str
    api_key: str = field(repr=False)
    display_name: str = "ERP"
    timeout_seconds: float = 15.0


def _client(config: Config) -> LentClient:
    return pooled_client(key, config.base_url.rstrip("/"), timeout=config.timeout_seconds,
                         headers={"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"})


def validate(config: Config) -> ValidationResult:
    with _client(config) as client:
        status = _json(client.request("GET", "/v1/status"), "GET /v1/status")
    capabilities = [c for c in status.get("capabilities") or [] if isinstance(c, str)]
    return ValidationResult(message=f"connected to {status.get('name') or config.display_name} "
                                    f"(accepts {', '.join(capabilities) or 'nothing'})",
                            details={"name": status.get("name"), "capabilities": capabilities,
                                     "interface_version": status.get("interface_version")})


def collection_of(document: Document) -> str:
    if isinstance(document, SalesInvoice):
        return "invoices"
    if isinstance(document, InvoicePayment):
        return "payments"
    if isinstance(document, JournalEntry):
        return "reimbursements" if document.kind == "reimbursement" else "expenses"
    if isinstance(document, MemberRecord):
        return "members"
    raise TypeError(f"the ERP interface has no collection for {type(document).__name__}")


def body_of(document: Document) -> dict:
    """The document as the interface's JSON: amounts as decimal strings, dates ISO 8601."""
    if isinstance(document, MemberRecord):
        return {"reference": document.reference, **{k: _plain(v) for k, v in document.fields.items()}}
    body = _plain(asdict(document))
    if isinstance(document, SalesInvoice):
        for line, source in zip(body["lines"], document.lines, strict=True):
            line.update(net=str(source.net), vat=str(source.vat))
        body["totals"] = {"net": str(document.net), "vat": str(document.vat), "total": str(document.total)}
    return body


def push_document(config: Config, document: Document) -> PushResult:
    path = f"/v1/{collection_of(document)}/{quote(document.reference, safe='')}"
    with _client(config) as client:
        response = client.request("PUT", path, json=body_of(document))
    receipt = _json(response, f"PUT {path}")
    if not receipt.get("id"):
        raise ProviderUnavailable(f"{config.display_name}: PUT {path} answered without an id", provider=key,
                                  code="malformed_response")
    return PushResult(remote_id=str(receipt["id"]), created=response.status_code == 201,
                      remote_updated_at=_time(receipt.get("updated_at")))


def find_document(config: Config, document: Document) -> str | None:
    path = f"/v1/{collection_of(document)}/{quote(document.reference, safe='')}"
    with _client(config) as client:
        try:
            response = client.request("GET", path)
        except ProviderRejected as exc:
            if exc.status_code == 404:
                return None
            raise
    found = _json(response, f"GET {path}").get("id")
    return str(found) if found else None


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        return None


def _json(response, where: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"hub_erp_api: {where} answered {response.status_code} without a JSON object",
                                  provider=key, code="malformed_response")
    return body
