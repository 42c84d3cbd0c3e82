"""VismaNetSandbox: Visma.net ERP API v1, the general ledger accounts list.

The ERP OpenAPI (https://api.finance.visma.net/API-index/index.html) is not vendored; requests are
checked here against its `GET /v1/account` operation (query `active`, boolean):
  GET /v1/account[?active=true] -> [{"accountID", "accountCD", "description", "type", "active"}]
Errors use Visma.net's {"ExceptionType", "ExceptionMessage", "ExceptionFaultCode",
"ExceptionMessageID", "ExceptionDetails"}; with `licensed` False the tenant has no Financials
licence and the answer is fault 12027 "No license for this company." as Visma's knowledge base
describes (https://community.visma.com/t5/Knowledge-base-in-Developers/tkb-p/DV_CO_Vismanet_knowledgebase).
State: `access_token`, `accounts`, `licensed`.
"""
from __future__ import annotations

import uuid
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line


class VismaNetSandbox(SandboxServer):
    def __init__(self, *, access_token: str = "visma-net-sandbox-access-token", **options: Any):
        super().__init__(**options)
        self.access_token = access_token
        self.licensed = True
        self.accounts = [_account(1, "1920", "Bank", "Asset"), _account(2, "1500", "Kundefordringer", "Asset"),
                         _account(3, "3010", "Lisensavgifter", "Income"),
                         _account(4, "3020", "Turneringsavgifter", "Income"),
                         _account(5, "3900", "Annen driftsinntekt", "Income", active=False)]
        self.add_route("GET", "/v1/account", self._accounts)
        # Pushes (sync): customer invoices, customer payments and journal transactions, values wrapped
        # as {"value": ...}; creates answer 201 with the document number in Location.
        self.customers = {str(number) for number in range(100, 112)}
        self.documents: dict[str, list[dict]] = {"customerInvoice": [], "customerPayment": [],
                                                 "journalTransaction": []}
        self.creations = 0
        for resource in self.documents:
            self.add_route("POST", f"/v1/{resource}", self._create(resource))
            self.add_route("GET", f"/v1/{resource}", self._search(resource))

    def error_response(self, status: int, message: str, fault: str = "") -> Response:
        return status, {}, {"ExceptionType": "IPPException", "ExceptionMessage": message,
                            "ExceptionFaultCode": fault or str(status), "ExceptionMessageID": str(uuid.uuid4()),
                            "ExceptionDetails": ""}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return self.error_response(401, "Invalid or expired token.", "10004")
        if not self.licensed:
            return self.error_response(403, "No license for this company.", "12027")
        return None

    def _document_problem(self, resource: str, document: dict) -> str | None:
        active = {account["accountCD"] for account in self.accounts if account["active"]}
        if resource == "customerInvoice":
            lines = document.get("invoiceLines") or []
            if document.get("customerNumber") not in self.customers:
                return f"Customer {document.get('customerNumber')} does not exist."
            return "Account is inactive or does not exist." if not lines or any(
                line.get("accountNumber") not in active for line in lines) else None
        if resource == "customerPayment":
            invoices = {row["referenceNumber"] for row in self.documents["customerInvoice"]}
            lines = document.get("paymentLines") or []
            if document.get("cashAccount") not in active:
                return "Cash account is inactive or does not exist."
            return "Document to apply does not exist." if not lines or any(
                line.get("refNbr") not in invoices for line in lines) else None
        lines = document.get("journalTransactionLines") or []
        if not lines or any(line.get("accountNumber") not in active for line in lines):
            return "Account is inactive or does not exist."
        debit = round(sum(line.get("debitAmountInCurrency") or 0 for line in lines), 2)
        credit = round(sum(line.get("creditAmountInCurrency") or 0 for line in lines), 2)
        return None if debit == credit > 0 else "The batch is out of balance."

    def _create(self, resource: str):
        def handler(request: SandboxRequest) -> Response:
            body = request.parsed_body
            if not isinstance(body, dict) or not all(isinstance(v, (dict, list)) for v in body.values()):
                return self.error_response(400, "Fields must be sent as {\"value\": ...} objects.")
            document = _plain(body)
            if problem := self._document_problem(resource, document):
                return self.error_response(400, problem)
            with self._lock:
                number = f"{sum(len(rows) for rows in self.documents.values()) + 1:06d}"
                self.documents[resource].append({**document, _IDS[resource]: number})
                self.creations += 1
            return 201, {"Location": f"{self.url}/v1/{resource}/{number}"}, b""
        return handler

    def _search(self, resource: str):
        def handler(request: SandboxRequest) -> Response:
            field = _SEARCH[resource]
            wanted = request.query.get(field, [None])[0]
            return 200, {}, [row for row in self.documents[resource] if wanted in (None, row.get(field))]
        return handler

    def _accounts(self, request: SandboxRequest) -> Response:
        active = request.query.get("active", [""])[0].lower()
        if active not in ("", "true", "false"):
            return self.error_response(400, f"The value '{active}' is not valid for active.")
        if not active:
            return 200, {}, self.accounts
        return 200, {}, [account for account in self.accounts if account["active"] == (active == "true")]


_IDS = {"customerInvoice": "referenceNumber", "customerPayment": "refNbr", "journalTransaction": "batchNumber"}
_SEARCH = {"customerInvoice": "customerRefNumber", "customerPayment": "paymentRef",
           "journalTransaction": "transactionDate"}


def _plain(body) -> dict:
    """{"field": {"value": x}} -> {"field": x}, as Visma.net stores what it was sent."""
    if isinstance(body, dict):
        if set(body) == {"value"}:
            return body["value"]
        return {name: _plain(value) for name, value in body.items()}
    if isinstance(body, list):
        return [_plain(item) for item in body]
    return body


def _account(number: int, code: str, description: str, account_type: str, *, active: bool = True) -> dict:
    return {"accountID": number, "accountCD": code, "description": description, "type": account_type,
            "active": active, "accountGroupCD": None, "controlAccountModule": None}


if __name__ == "__main__":
    run_from_command_line(VismaNetSandbox)
