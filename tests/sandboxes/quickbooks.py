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

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"Fault": {"Error": [{"Message": message, "Detail": message, "code": "2010"}],
                                      "type": "ValidationFault"}, "time": _now()}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {}, {"fault": {"error": [{
                "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "detail": "Token expired or revoked", "code": "3200"}], "type": "AUTHENTICATION"}, "time": _now()}
        return None

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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


if __name__ == "__main__":
    run_from_command_line(QuickBooksSandbox)
