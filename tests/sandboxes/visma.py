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

    def issue_access_token(self, scopes: tuple[str, ...]) -> str:
        token = secrets.token_urlsafe(24)
        self._scopes[token] = set(scopes)
        return token

    def error_response(self, status: int, message: str) -> Response:
        error_code = 5000 if status >= 500 else 4000 + status % 100
        return status, {}, {"ErrorCode": error_code, "DeveloperErrorMessage": message, "ErrorId": str(uuid.uuid4())}

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


if __name__ == "__main__":
    run_from_command_line(VismaSandbox)
