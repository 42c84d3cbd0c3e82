"""QuickBooksSandbox: QuickBooks Online Accounting API v3, the CompanyInfo read.

Intuit publishes no OpenAPI (specs/SOURCES.md), so requests are checked here against
https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo:
  GET /v3/company/{realmId}/companyinfo/{realmId}[?minorversion=N] -> {"CompanyInfo": {...}, "time"}
Quirks played: without `Accept: application/json` the answer is XML, as QuickBooks does; a bad or
expired token answers 401 with code 3200 (lower-case "fault"/"error", as Intuit sends it for
authentication failures); a realm the token was not issued for answers 403 with code 3100.
See https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/error-codes
State: `access_token`, `companies` (realm id -> CompanyInfo).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_REALM_ID = "9341452123456789"


class QuickBooksSandbox(SandboxServer):
    def __init__(self, *, access_token: str = "quickbooks-sandbox-access-token", **options: Any):
        super().__init__(**options)
        self.access_token = access_token
        self.companies = {DEFAULT_REALM_ID: {
            "CompanyName": "Sandbox Company_US_1", "LegalName": "Sandbox Company_US_1", "Country": "US",
            "FiscalYearStartMonth": "January", "Id": "1", "SyncToken": "4", "domain": "QBO", "sparse": False,
            "MetaData": {"CreateTime": "2026-01-05T13:36:41-07:00"}}}
        self.add_route("GET", "/v3/company/{realm}/companyinfo/{company}", self._company_info)
        # Pushes (sync): entities created with POST, found with the query endpoint.
        # https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/invoice (and payment,
        # journalentry, customer, vendor); https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-
        # quickbooks-online-api/data-queries. Items and accounts are named by Id.
        self.items = {"1": "License fees (3010)", "2": "Tournament fees (3020)"}
        self.accounts = {"35": "Checking", "84": "Accounts Receivable", "33": "Accounts Payable",
                         "7": "Travel", "89": "Sales Tax Payable", "90": "Input VAT"}
        self.entities: dict[str, dict[str, dict]] = {name: {} for name in _ENTITIES}
        self.creations = 0
        self.add_route("POST", "/v3/company/{realm}/{entity}", self._create)
        self.add_route("GET", "/v3/company/{realm}/query", self._query)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"Fault": {"Error": [{"Message": message, "Detail": message, "code": "2010"}],
                                      "type": "ValidationFault"}, "time": _now()}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {}, {"fault": {"error": [{
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired or revoked", "code": "3200"}], "type": "AUTHENTICATION"}, "time": _now()}
        return None

    def _realm_problem(self, request: SandboxRequest) -> Response | None:
        if request.path_params["realm"] not in self.companies:
            return 403, {}, {"Fault": {"Error": [{"Message": "ApplicationAuthorizationFailed", "code": "3100",
                                                  "Detail": "The token was not issued for this realm"}],
                                       "type": "SECURITY"}, "time": _now()}
        if request.query.get("minorversion", ["75"])[0] != "75":
            return self.error_response(400, "minorversion must be 75")
        return None

    def _create(self, request: SandboxRequest) -> Response:
        if problem := self._realm_problem(request):
            return problem
        entity, body = request.path_params["entity"], request.parsed_body
        if entity not in _ENTITIES or not isinstance(body, dict):
            return self.error_response(400, f"Unsupported entity or body: {entity}")
        if problem := self._entity_problem(entity, body):
            return self.error_response(400, problem)
        with self._lock:
            row = {**body, "Id": str(sum(len(rows) for rows in self.entities.values()) + 100), "SyncToken": "0"}
            self.entities[entity][row["Id"]] = row
            self.creations += 1
        return 200, {}, {_ENTITIES[entity]: row, "time": _now()}

    def _entity_problem(self, entity: str, body: dict) -> str | None:
        """Checks as QuickBooks validates: references must exist, journal entries balance."""
        customers = self.entities["customer"]
        if entity in ("customer", "vendor"):
            taken = any(row["DisplayName"] == body.get("DisplayName") for row in self.entities[entity].values())
            return "Duplicate Name Exists Error" if taken or not body.get("DisplayName") else None
        if entity in ("invoice", "payment") and (body.get("CustomerRef") or {}).get("value") not in customers:
            return "Invalid Reference Id: CustomerRef"
        lines = body.get("Line") or []
        if entity == "invoice":
            items = {(line.get("SalesItemLineDetail") or {}).get("ItemRef", {}).get("value") for line in lines}
            return "Invalid Reference Id: ItemRef" if not lines or items - set(self.items) else None
        if entity == "payment":
            linked = {txn.get("TxnId") for line in lines for txn in line.get("LinkedTxn") or []}
            return "Invalid Reference Id: LinkedTxn" if not linked or linked - set(self.entities["invoice"]) else None
        accounts = {(line.get("JournalEntryLineDetail") or {}).get("AccountRef", {}).get("value") for line in lines}
        if accounts - set(self.accounts):
            return "Invalid Reference Id: AccountRef"
        totals = {"Debit": 0.0, "Credit": 0.0}
        for line in lines:
            totals[line["JournalEntryLineDetail"]["PostingType"]] += line["Amount"]
        return None if round(totals["Debit"], 2) == round(totals["Credit"], 2) > 0 else \
            "Journal Entry Must Balance"

    def _query(self, request: SandboxRequest) -> Response:
        if problem := self._realm_problem(request):
            return problem
        match = _QUERY.match(request.query.get("query", [""])[0])
        entity = {name: key for key, name in _ENTITIES.items()}.get(match["entity"]) if match else None
        if entity is None:
            return self.error_response(400, "QueryParserError: the sandbox reads select Id from <entity> where "
                                            "<field> = '<value>'")
        value = re.sub(r"\\(.)", r"\1", match["value"])
        rows = [{"Id": row["Id"]} for row in self.entities[entity].values() if str(row.get(match["field"])) == value]
        return 200, {}, {"QueryResponse": {match["entity"]: rows} if rows else {}, "time": _now()}

    def _company_info(self, request: SandboxRequest) -> Response:
        realm, company = request.path_params["realm"], request.path_params["company"]
        minor = request.query.get("minorversion", ["0"])[0]
        if not minor.isdigit():
            return self.error_response(400, f"Invalid minorversion: {minor}")
        info = self.companies.get(realm)
        if info is None:
            return 403, {}, {"Fault": {"Error": [{
                "Message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                "Detail": f"The token was not issued for realm {realm}", "code": "3100"}], "type": "SECURITY"},
                "time": _now()}
        if company != realm:
            return self.error_response(400, "Object Not Found: CompanyInfo is read with the realm id")
        if "application/json" not in request.headers.get("accept", ""):
            xml = f'<IntuitResponse time="{_now()}"><CompanyInfo><CompanyName>{info["CompanyName"]}' \
                  "</CompanyName></CompanyInfo></IntuitResponse>"
            return 200, {"Content-Type": "application/xml"}, xml
        return 200, {}, {"CompanyInfo": info, "time": _now()}


_ENTITIES = {"invoice": "Invoice", "payment": "Payment", "journalentry": "JournalEntry", "customer": "Customer",
             "vendor": "Vendor"}
_QUERY = re.compile(r"^select Id from (?P<entity>\w+) where (?P<field>\w+) = '(?P<value>(?:[^'\\]|\\.)*)'$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


if __name__ == "__main__":
    run_from_command_line(QuickBooksSandbox)
