"""UniconomySandbox: the Unimicro platform API (Uni Economy), the company settings read.

Unimicro publishes its API reference at https://developer.unimicro.no/docs but no machine-readable
file we could vendor; requests are checked here as documented there and in
https://developer.unimicro.no/guide/endpoints/users (company-scoped calls need `CompanyKey`):
  GET /api/biz/companysettings/1[?select=Field,Field] (Authorization: Bearer, CompanyKey: <GUID>)
  -> {"ID": 1, "CompanyName", "OrganizationNumber", ...} narrowed to the selected fields.
A missing or unknown CompanyKey is refused 400/403 and a bad token 401; the platform's error body
for these cases is not documented, so the sandbox answers ASP.NET's {"Message": ...}.
State: `access_token`, `companies` (CompanyKey -> settings).
"""
from __future__ import annotations

from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_COMPANY_KEY = "3f1c2a4e-8b7d-4c61-9e0a-5d2b7c9f1a36"


class UniconomySandbox(SandboxServer):
    def __init__(self, *, access_token: str = "uniconomy-sandbox-access-token", **options: Any):
        super().__init__(**options)
        self.access_token = access_token
        self.companies = {DEFAULT_COMPANY_KEY: {
            "ID": 1, "CompanyName": "Sandbox Idrettslag", "OrganizationNumber": "998877665",
            "BaseCurrencyCodeID": 1, "DefaultEmailID": 1, "TaxMandatoryType": 3}}
        self.add_route("GET", "/api/biz/companysettings/{id}", self._company_settings)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"Message": message}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.access_token}":
            return self.error_response(401, "Authorization has been denied for this request.")
        company_key = request.headers.get("companykey", "")
        if not company_key:
            return self.error_response(400, "Missing CompanyKey header.")
        if company_key.lower() not in self.companies:
            return self.error_response(403, f"No access to company {company_key}.")
        return None

    def _company_settings(self, request: SandboxRequest) -> Response:
        settings = self.companies[request.headers["companykey"].lower()]
        if request.path_params["id"] != "1":
            return self.error_response(404, f"CompanySettings {request.path_params['id']} not found.")
        selected = [name for name in request.query.get("select", [""])[0].split(",") if name]
        unknown = [name for name in selected if name not in settings]
        if unknown:
            return self.error_response(400, f"Could not find a property named '{unknown[0]}' on CompanySettings.")
        return 200, {}, {name: settings[name] for name in selected} if selected else settings


if __name__ == "__main__":
    run_from_command_line(UniconomySandbox)
