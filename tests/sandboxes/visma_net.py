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

    def _accounts(self, request: SandboxRequest) -> Response:
        active = request.query.get("active", [""])[0].lower()
        if active not in ("", "true", "false"):
            return self.error_response(400, f"The value '{active}' is not valid for active.")
        if not active:
            return 200, {}, self.accounts
        return 200, {}, [account for account in self.accounts if account["active"] == (active == "true")]


def _account(number: int, code: str, description: str, account_type: str, *, active: bool = True) -> dict:
    return {"accountID": number, "accountCD": code, "description": description, "type": account_type,
            "active": active, "accountGroupCD": None, "controlAccountModule": None}


if __name__ == "__main__":
    run_from_command_line(VismaNetSandbox)
