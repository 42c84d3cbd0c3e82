"""VismaSandbox: Visma eAccounting (Spiris) API v2, the company settings read.

The eAccounting Swagger is not vendored (specs/SOURCES.md); requests are checked here against
it as documented at https://eaccountingapi.vismaonline.com/swagger/ui/index and
https://developer.vismaonline.com/docs/getting-started:
  GET /v2/companysettings -> CompanySettingsApi {"Name", "CorporateIdentityNumber", ...}
  needs the scope ea:sales or ea:sales_readonly.
Errors use eAccounting's {"ErrorCode", "DeveloperErrorMessage", "ErrorId"}; with `api_module_active`
False the company has not switched the API on and the answer is the 403 "ForbiddenRequestException -
No access to module: api_standard" its knowledge base describes. The numeric ErrorCodes are the
sandbox's own.
State: `access_token` (all scopes), `issue_access_token(scopes)`, `company`, `api_module_active`.
"""
from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

ALL_SCOPES = ("ea:api", "offline_access", "ea:sales", "ea:accounting", "ea:purchase")
COMPANY_SETTINGS_SCOPES = {"ea:sales", "ea:sales_readonly"}


class VismaSandbox(SandboxServer):
    def __init__(self, *, access_token: str = "visma-sandbox-access-token", **options: Any):
        super().__init__(**options)
        self.access_token = access_token
        self.api_module_active = True
        self._scopes = {access_token: set(ALL_SCOPES)}
        self.company = {"Name": "Sandbox Idrottsförening", "Email": "kansli@example.org", "Address1": "Banvägen 2",
                        "City": "Göteborg", "PostalCode": "411 01", "CountryCode": "SE", "CurrencyCode": "SEK",
                        "CorporateIdentityNumber": "802400-0000", "AccountNumberDigits": 4, "CompanyStatus": 1}
        self.add_route("GET", "/v2/companysettings", lambda request: (200, {}, self.company))
        # Pushes (sync), as the v2 reference describes them: customers, customer invoices and manual
        # vouchers, lists filtered with OData `$filter=<Field> eq '<value>'`. Rows must name accounts of
        # the company's chart and vouchers must balance.
        self.accounts = {1510, 1930, 2440, 2611, 2641, 3010, 3020, 5010, 5800}
        self.customers: dict[str, dict] = {}
        self.customerinvoices: dict[str, dict] = {}
        self.vouchers: dict[str, dict] = {}
        self.creations = 0
        for path, store, scope in (("/v2/customers", "customers", "ea:sales"),
                                   ("/v2/customerinvoices", "customerinvoices", "ea:sales"),
                                   ("/v2/vouchers", "vouchers", "ea:accounting")):
            self.add_route("GET", path, self._list(store, scope))
            self.add_route("POST", path, self._create(store, scope))

    def issue_access_token(self, scopes: tuple[str, ...]) -> str:
        token = secrets.token_urlsafe(24)
        self._scopes[token] = set(scopes)
        return token

    def error_response(self, status: int, message: str) -> Response:
        error_code = 5000 if status >= 500 else 4000 + status % 100
        return status, {}, {"ErrorCode": error_code, "DeveloperErrorMessage": message, "ErrorId": str(uuid.uuid4())}

    def _scope_problem(self, request: SandboxRequest, scope: str) -> Response | None:
        scopes = self._scopes.get(request.headers.get("authorization", "")[7:], set())
        if scope not in scopes:
            return self.error_response(403, f"ForbiddenRequestException - Missing scope {scope}")
        return None

    def _list(self, store: str, scope: str):
        def handler(request: SandboxRequest) -> Response:
            if problem := self._scope_problem(request, scope):
                return problem
            rows = list(getattr(self, store).values())
            if wanted := request.query.get("$filter", [""])[0]:
                match = _FILTER.match(wanted)
                if match is None:
                    return self.error_response(400, f"The sandbox cannot evaluate $filter={wanted}")
                value = match["value"].replace("''", "'")
                rows = [row for row in rows if str(row.get(match["field"])) == value]
            return 200, {}, {"Meta": {"CurrentPage": 1, "PageSize": 50, "TotalNumberOfPages": 1,
                                      "TotalNumberOfResults": len(rows)}, "Data": rows}
        return handler

    def _create(self, store: str, scope: str):
        def handler(request: SandboxRequest) -> Response:
            if problem := self._scope_problem(request, scope):
                return problem
            body = request.parsed_body
            if not isinstance(body, dict):
                return self.error_response(400, "The request body must be a JSON object.")
            if problem := _problem(store, body, self):
                return self.error_response(400, problem)
            with self._lock:
                row = {**body, "Id": str(uuid.uuid4())}
                getattr(self, store)[row["Id"]] = row
                self.creations += 1
            return 201, {}, row
        return handler

    def authenticate(self, request: SandboxRequest) -> Response | None:
        header = request.headers.get("authorization", "")
        scopes = self._scopes.get(header[7:]) if header.startswith("Bearer ") else None
        if scopes is None:
            return self.error_response(401, "UnauthorizedException - The access token is missing, invalid or expired")
        if not self.api_module_active:
            return self.error_response(403, "ForbiddenRequestException - No access to module: api_standard")
        if request.path == "/v2/companysettings" and not scopes & COMPANY_SETTINGS_SCOPES:
            return self.error_response(403, "ForbiddenRequestException - Missing scope ea:sales or ea:sales_readonly")
        return None


_FILTER = re.compile(r"^(?P<field>[A-Za-z]+) eq '(?P<value>(?:[^']|'')*)'$")


def _problem(store: str, body: dict, sandbox: VismaSandbox) -> str | None:
    if store == "customers":
        return None if body.get("CustomerNumber") and body.get("Name") else "CustomerNumber and Name are required."
    rows = body.get("Rows")
    if not isinstance(rows, list) or not rows:
        return "Rows are required."
    if any(row.get("AccountNumber") not in sandbox.accounts for row in rows):
        return "Account number does not exist in the chart of accounts."
    if store == "customerinvoices":
        return None if body.get("CustomerId") in sandbox.customers else "CustomerId does not exist."
    debit = round(sum(row.get("DebitAmount") or 0 for row in rows), 2)
    credit = round(sum(row.get("CreditAmount") or 0 for row in rows), 2)
    return None if debit == credit > 0 else f"The voucher is not balanced (debit {debit}, credit {credit})."


if __name__ == "__main__":
    run_from_command_line(VismaSandbox)
