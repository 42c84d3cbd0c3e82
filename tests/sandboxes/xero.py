"""XeroSandbox: Xero's identity Connections endpoint and the Accounts part of the Accounting API.

Every accounting request is checked against Xero's published description
(specs/xero-accounting.json, which requires the `xero-tenant-id` header); GET /Connections is
checked against the Connections operation of Xero's identity description (XeroAPI/Xero-OpenAPI
xero-identity.yaml, MIT), reproduced in IDENTITY_SPEC below because that file is not vendored.

  GET /Connections                                   -> [{"tenantId", "tenantName", ...}]
  GET /api.xro/2.0/Accounts[?where=Status=="ACTIVE"] -> {"Accounts": [...]}
Auth: `Authorization: Bearer <access_token>`; a bad token answers 401 and a tenant the token is
not connected to answers 403, both in Xero's problem shape {"Type", "Title", "Status", "Detail",
"Instance", "Extensions"} (as seen in XeroAPI SDK issue reports; Xero documents no body).
State: `access_token`, `tenants` (the connections), `accounts` (the chart).
"""
from __future__ import annotations

import re
import threading
import uuid
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecValidator, SpecViolation, spec_validator

ACCOUNTING_PREFIX = "/api.xro/2.0/"
DEFAULT_TENANT_ID = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
IDENTITY_SPEC = {
    "openapi": "3.0.0",
    "info": {"title": "Xero OAuth 2 Identity Service API", "version": "2.9.4"},
    "servers": [{"url": "https://api.xero.com"}],
    "paths": {"/Connections": {"get": {
        "operationId": "getConnections",
        "parameters": [{"in": "query", "required": False, "name": "authEventId",
                        "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": {"description": "Success - return response of type Connections array"}},
    }}},
}
_identity_validator: SpecValidator | None = None
_identity_lock = threading.Lock()
_WHERE_STATUS = re.compile(r'^\s*Status\s*==\s*"([A-Z]+)"\s*$')


class _XeroValidator:
    """Accounting paths against xero-accounting.json, everything else against IDENTITY_SPEC."""

    base_path = ""

    def __init__(self) -> None:
        global _identity_validator
        self.accounting = spec_validator("xero-accounting.json")
        with _identity_lock:
            if _identity_validator is None:
                _identity_validator = SpecValidator(IDENTITY_SPEC)
        self.identity = _identity_validator

    def validate(self, *, method: str, path: str, query_string: str = "", headers=None,
                 body: bytes = b"") -> list[SpecViolation]:
        if path.startswith(ACCOUNTING_PREFIX):
            return self.accounting.validate(method=method, path=path, query_string=query_string, headers=headers,
                                            body=body)
        return self.identity.validate(method=method, path=path, query_string=query_string, headers=headers, body=body)


class XeroSandbox(SandboxServer):
    def __init__(self, *, access_token: str = "xero-sandbox-access-token", **options: Any):
        options.setdefault("validator", _XeroValidator())
        super().__init__(**options)
        self.access_token = access_token
        self.tenants = [{"id": str(uuid.uuid4()), "authEventId": str(uuid.uuid4()), "tenantId": DEFAULT_TENANT_ID,
                         "tenantType": "ORGANISATION", "tenantName": "Demo Company (SE)",
                         "createdDateUtc": "2026-01-07T18:46:19.5165400",
                         "updatedDateUtc": "2026-01-07T18:46:19.5187840"}]
        self.accounts = [_account("090", "Business Bank Account", "BANK"), _account("200", "Sales", "REVENUE"),
                         _account("3010", "License fees", "REVENUE"), _account("3020", "Tournament fees", "REVENUE"),
                         _account("610", "Accounts Receivable", "CURRENT"),
                         _account("999", "Old sponsorship", "REVENUE", status="ARCHIVED")]
        self.add_route("GET", "/Connections", lambda request: (200, {}, self.tenants))
        self.add_route("GET", ACCOUNTING_PREFIX + "Accounts", self._accounts)
        # Pushes (sync): invoices and bills, payments; an Idempotency-Key replays the first answer.
        self.invoices: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.creations = 0
        self._replies: dict[str, Response] = {}
        self.add_route("PUT", ACCOUNTING_PREFIX + "Invoices", self._idempotent(self._put_invoices))
        self.add_route("GET", ACCOUNTING_PREFIX + "Invoices", self._search("Invoices", self.invoices))
        self.add_route("PUT", ACCOUNTING_PREFIX + "Payments", self._idempotent(self._put_payments))
        self.add_route("GET", ACCOUNTING_PREFIX + "Payments", self._search("Payments", self.payments))

    def error_response(self, status: int, message: str) -> Response:
        title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}.get(status, "Error")
        return status, {}, {"Type": None, "Title": title, "Status": status, "Detail": message,
                            "Instance": str(uuid.uuid4()), "Extensions": {}}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return self.error_response(401, "AuthenticationUnsuccessful")
        if request.path.startswith(ACCOUNTING_PREFIX):
            tenant = request.headers.get("xero-tenant-id", "")
            if tenant and tenant not in {t["tenantId"] for t in self.tenants}:
                return self.error_response(403, "AuthenticationUnsuccessful")
        return None

    def _idempotent(self, handler):
        def replaying(request: SandboxRequest) -> Response:
            key = request.headers.get("idempotency-key")
            with self._lock:
                if key and key in self._replies:
                    return self._replies[key]
                answer = handler(request)
                if key and answer[0] < 500:
                    self._replies[key] = answer
            return answer
        return replaying

    def _active_codes(self) -> set[str]:
        return {account["Code"] for account in self.accounts if account["Status"] == "ACTIVE"}

    def _put_invoices(self, request: SandboxRequest) -> Response:
        created = []
        for invoice in request.parsed_body["Invoices"]:
            codes = {item.get("AccountCode") for item in invoice.get("LineItems") or []}
            if unknown := sorted(str(code) for code in codes - self._active_codes()):
                return _validation_error(f"Account code '{unknown[0]}' is not a valid code for this document.")
            if not (invoice.get("Contact") or {}).get("Name"):
                return _validation_error("A Contact must be specified for this type of transaction")
            stored = {**invoice, "InvoiceID": str(uuid.uuid4()), "Total": round(sum(
                item["Quantity"] * item["UnitAmount"] + item.get("TaxAmount", 0) for item in invoice["LineItems"]), 2)}
            self.invoices[stored["InvoiceID"]] = stored
            self.creations += 1
            created.append(stored)
        return 200, {}, {"Id": str(uuid.uuid4()), "Status": "OK", "Invoices": created}

    def _put_payments(self, request: SandboxRequest) -> Response:
        created = []
        for payment in request.parsed_body["Payments"]:
            invoice = self.invoices.get((payment.get("Invoice") or {}).get("InvoiceID", ""))
            if invoice is None:
                return _validation_error("Invoice could not be found")
            if (payment.get("Account") or {}).get("Code") not in self._active_codes():
                return _validation_error("Account code must be specified and valid")
            stored = {**payment, "PaymentID": str(uuid.uuid4()), "Status": "AUTHORISED"}
            self.payments[stored["PaymentID"]] = stored
            self.creations += 1
            created.append(stored)
        return 200, {}, {"Id": str(uuid.uuid4()), "Status": "OK", "Payments": created}

    def _search(self, collection: str, store: dict):
        def handler(request: SandboxRequest) -> Response:
            where = request.query.get("where", [""])[0]
            match = re.fullmatch(r'\s*Reference\s*==\s*"((?:[^"\\]|\\.)*)"\s*', where) if where else None
            if where and match is None:
                return self.error_response(400, f"The sandbox filters on Reference only, not: {where}")
            wanted = match.group(1).replace('\\"', '"') if match else None
            rows = [row for row in store.values() if wanted is None or row.get("Reference") == wanted]
            return 200, {}, {"Id": str(uuid.uuid4()), "Status": "OK", collection: rows}
        return handler

    def _accounts(self, request: SandboxRequest) -> Response:
        where = request.query.get("where", [""])[0]
        accounts = self.accounts
        if where:
            match = _WHERE_STATUS.match(where)
            if match is None:
                return self.error_response(400, f"The sandbox filters on Status only, not: {where}")
            accounts = [account for account in accounts if account["Status"] == match.group(1)]
        return 200, {}, {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "Hub sandbox",
                         "DateTimeUTC": "/Date(1767225600000)/", "Accounts": accounts}


def _validation_error(message: str) -> Response:
    return 400, {}, {"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
                     "Elements": [{"ValidationErrors": [{"Message": message}]}]}


def _account(code: str, name: str, account_type: str, *, status: str = "ACTIVE") -> dict:
    return {"AccountID": str(uuid.uuid4()), "Code": code, "Name": name, "Type": account_type, "Status": status,
            "TaxType": "NONE", "EnablePaymentsToAccount": account_type == "BANK"}


if __name__ == "__main__":
    run_from_command_line(XeroSandbox)
