"""DynamicsSandbox: a Dataverse environment's Web API (contacts, WhoAmI) and the Microsoft Entra
token endpoint that issues its client-credentials tokens.

Dataverse has no vendorable OpenAPI (its $metadata is per organisation, specs/SOURCES.md), so
requests are checked here against the documentation
(https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/overview):
  POST /<tenant>/oauth2/v2.0/token   form grant_type=client_credentials, client_id,
       client_secret, scope=<environment>/.default  -> {"access_token", "expires_in", ...}
  GET  /api/data/v9.2/WhoAmI -> {"BusinessUnitId", "UserId", "OrganizationId"}
  GET  /api/data/v9.2/contacts?$select&$filter&$orderby  (Prefer: odata.maxpagesize=N pages
       with @odata.nextLink carrying $skiptoken); filters: `modifiedon ge <time>`,
       `<column> eq '<value>'`
  PATCH /api/data/v9.2/contacts(<guid>) with If-Match: * -> update only (404 when missing);
  PATCH /api/data/v9.2/contacts(<key column>='<value>') -> upsert by alternate key
       (201 created, 200 updated with Prefer: return=representation)
Every Web API request must send OData-Version: 4.0 and a live bearer token (401 otherwise, in
Dataverse's {"error": {"code", "message"}} shape).
State: `contacts` (contactid -> row), `edit_contact()` plays a change made in the CRM,
`expire_tokens()`, `tokens_issued`, `creations`.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

API = "/api/data/v9.2"
ORGANIZATION_ID = "8c4e0c2a-3f1d-4f6e-9a4f-0d3c1b2a9e71"
_KEYED = re.compile(r"^contacts\((?:(?P<guid>[0-9a-fA-F-]{36})|"
                    r"(?P<column>[a-z_][a-z0-9_]*)='(?P<value>(?:[^']|'')*)')\)$")
_GE = re.compile(r"^modifiedon ge (?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$")
_EQ = re.compile(r"^(?P<column>[a-z_][a-z0-9_]*) eq '(?P<value>(?:[^']|'')*)'$")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DynamicsSandbox(SandboxServer):
    def __init__(self, *, client_id: str = "5f0c1f8e-8d59-4c0e-9f3e-6a2b1c3d4e5f",
                 client_secret: str = "dynamics-sandbox-secret", directory_tenant_id: str = "contoso.onmicrosoft.com",
                 **options: Any):
        super().__init__(**options)
        self.client_id, self.client_secret, self.directory_tenant_id = client_id, client_secret, directory_tenant_id
        self.contacts: dict[str, dict] = {}
        self.tokens_issued = 0
        self.creations = 0
        self._tokens: dict[str, float] = {}
        self._state = threading.RLock()
        self.add_route("POST", "/{tenant}/oauth2/v2.0/token", self._token)
        self.add_route("GET", API + "/{entity}", self._get)
        self.add_route("PATCH", API + "/{entity}", self._patch)

    # state for tests ------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        with self._state:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def edit_contact(self, contactid: str, **columns) -> dict:
        """A change made in Dynamics itself: new values and a new modifiedon."""
        time.sleep(0.002)  # modifiedon has to move forward past the hub's last write
        with self._state:
            self.contacts[contactid].update(columns, modifiedon=_now())
            return dict(self.contacts[contactid])

    def add_contact(self, **columns) -> dict:
        with self._state:
            contactid = str(uuid.uuid4())
            self.contacts[contactid] = {"contactid": contactid, **columns, "modifiedon": _now()}
            return dict(self.contacts[contactid])

    # hooks --------------------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"error": {"code": f"0x8006{status:04x}", "message": message}}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if not request.path.startswith(API):
            return None
        if request.headers.get("odata-version") != "4.0":
            return self.error_response(400, "The OData-Version header must be 4.0.")
        header = request.headers.get("authorization", "")
        with self._state:
            live = self._tokens.get(header[7:], 0.0) > time.time() if header.startswith("Bearer ") else False
        if not live:
            return 401, {"WWW-Authenticate": "Bearer error=\"invalid_token\""}, {
                "error": {"code": "0x80072560", "message": "The user is not a member of the organization."}}
        return None

    # token endpoint -----------------------------------------------------------------------------

    def _token(self, request: SandboxRequest) -> Response:
        form = request.parsed_body if request.content_type == "application/x-www-form-urlencoded" else None
        if not isinstance(form, dict) or form.get("grant_type") != "client_credentials":
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "AADSTS70003"}
        if request.path_params["tenant"] != self.directory_tenant_id:
            return 400, {}, {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {}, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}
        if form.get("scope") != f"{self.url}/.default":
            return 400, {}, {"error": "invalid_scope", "error_description": "AADSTS70011: scope must be <env>/.default"}
        token = secrets.token_urlsafe(32)
        with self._state:
            self._tokens[token] = time.time() + 3599
            self.tokens_issued += 1
        return 200, {}, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    # Web API ------------------------------------------------------------------------------------

    def _get(self, request: SandboxRequest) -> Response:
        entity = unquote(request.path_params["entity"])
        if entity == "WhoAmI":
            return 200, {}, {"@odata.context": f"{self.url}{API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                             "BusinessUnitId": ORGANIZATION_ID, "UserId": str(uuid.uuid4()),
                             "OrganizationId": ORGANIZATION_ID}
        if entity != "contacts":
            return self.error_response(404, f"Resource not found for the segment '{entity}'.")
        query = {name: values[0] for name, values in request.query.items()}
        rows = sorted(self.contacts.values(), key=lambda row: row["modifiedon"])
        problem = None
        if "$filter" in query:
            if match := _GE.match(query["$filter"]):
                since = match["time"].replace("Z", "")
                rows = [row for row in rows if row["modifiedon"][:19] >= since]
            elif match := _EQ.match(query["$filter"]):
                value = match["value"].replace("''", "'")
                rows = [row for row in rows if str(row.get(match["column"], "")) == value]
            else:
                problem = f"The sandbox cannot evaluate $filter={query['$filter']}"
        if problem:
            return self.error_response(400, problem)
        select = [column for column in query.get("$select", "").split(",") if column]
        if any(not _COLUMN.match(column) for column in select):
            return self.error_response(400, "Could not find a property named in $select.")
        size = int(request.headers.get("prefer", "odata.maxpagesize=5000").rpartition("=")[2] or 5000)
        skip = int(query.get("$skiptoken", "0"))
        page = rows[skip:skip + size]
        body: dict = {"value": [{k: row.get(k) for k in select} if select else dict(row) for row in page]}
        if skip + size < len(rows):
            body["@odata.nextLink"] = f"{self.url}{API}/contacts?" + urlencode({**query, "$skiptoken": skip + size})
        return 200, {}, body

    def _patch(self, request: SandboxRequest) -> Response:
        match = _KEYED.match(unquote(request.path_params["entity"]))
        body = request.parsed_body
        if match is None:
            return self.error_response(400, "Bad Request - Error in query syntax.")
        if request.content_type != "application/json" or not isinstance(body, dict) or not all(
                _COLUMN.match(name) and (value is None or isinstance(value, (str, int, float, bool)))
                for name, value in body.items()):
            return self.error_response(400, "The request body must be a JSON object of columns to values.")
        with self._state:
            if match["guid"]:
                row = self.contacts.get(match["guid"].lower())
                if row is None:
                    return self.error_response(404, f"contact With Id = {match['guid']} Does Not Exist")
                created = False
            else:
                value = match["value"].replace("''", "'")
                row = next((r for r in self.contacts.values() if str(r.get(match["column"], "")) == value), None)
                created = row is None
                if created:
                    if request.headers.get("if-match") == "*":
                        return self.error_response(404, "contact Does Not Exist")
                    contactid = str(uuid.uuid4())
                    row = self.contacts[contactid] = {"contactid": contactid, match["column"]: value}
                    self.creations += 1
            row.update(body, modifiedon=_now())
            answer = dict(row)
        if "return=representation" not in request.headers.get("prefer", ""):
            return 204, {"OData-EntityId": f"{self.url}{API}/contacts({answer['contactid']})"}, b""
        return (201 if created else 200), {}, answer


if __name__ == "__main__":
    run_from_command_line(DynamicsSandbox)

