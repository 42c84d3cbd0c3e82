"""TripletexSandbox: Tripletex API v2 session tokens and whoAmI.

Tripletex's swagger.json carries no licence for redistribution (specs/SOURCES.md); requests are
checked here against https://developer.tripletex.no/docs/documentation/authentication-and-tokens/
and the API reference https://tripletex.no/v2-docs/:
  PUT /v2/token/session/:create?consumerToken&employeeToken&expirationDate=YYYY-MM-DD
      -> {"value": {"id", "version", "expirationDate", "token", ...}}; the date must be later than
      today, wrong tokens are refused.
  GET /v2/token/session/>whoAmI  (HTTP Basic: "<company id or 0>:<session token>")
      -> {"value": {"employeeId", "actualEmployeeId", "companyId", "company": {...}, "language"}}
      User name 0 is the employee's own company; another id must be one of `client_companies`
      (an accountant's clients).
Errors use Tripletex's {"status", "code", "message", "link", "developerMessage",
"validationMessages", "requestId"}; the numeric codes are the sandbox's own.
State: `consumer_token`, `employee_token`, `company`, `client_companies`, `sessions`.
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
import uuid
from datetime import date
from typing import Any
from urllib.parse import unquote

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class TripletexSandbox(SandboxServer):
    def __init__(self, *, consumer_token: str = "tripletex-sandbox-consumer-token",
                 employee_token: str = "tripletex-sandbox-employee-token", **options: Any):
        super().__init__(**options)
        self.consumer_token = consumer_token
        self.employee_token = employee_token
        self.company = {"id": 1001, "name": "Sandbox Idrettslag", "organizationNumber": "998877665"}
        self.client_companies = {2002: {"id": 2002, "name": "Klient Klubb", "organizationNumber": "911222333"}}
        self.sessions: dict[str, dict] = {}
        self.add_route("PUT", "/v2/token/session/{action}", self._create_session)
        self.add_route("GET", "/v2/token/session/{action}", self._who_am_i)

    def error_response(self, status: int, message: str, validation: list | None = None) -> Response:
        return status, {}, {"status": status, "code": 1000 + status, "message": message, "link": None,
                            "developerMessage": None, "validationMessages": validation,
                            "requestId": str(uuid.uuid4())}

    def _create_session(self, request: SandboxRequest) -> Response:
        if unquote(request.path_params["action"]) != ":create":
            return self.error_response(404, "Not found")
        query = {name: values[0] for name, values in request.query.items()}
        missing = [name for name in ("consumerToken", "employeeToken", "expirationDate") if not query.get(name)]
        if missing:
            return self.error_response(422, "Validation failed.",
                                       [{"field": name, "message": "Kan ikke være null."} for name in missing])
        if not _DATE.fullmatch(query["expirationDate"]) or query["expirationDate"] <= date.today().isoformat():
            return self.error_response(422, "Validation failed.", [
                {"field": "expirationDate", "message": "The expiration date must be a date later than today."}])
        if not (secrets.compare_digest(query["consumerToken"], self.consumer_token)
                and secrets.compare_digest(query["employeeToken"], self.employee_token)):
            return self.error_response(403, "Invalid consumer token or employee token.")
        token = secrets.token_urlsafe(24)
        session = {"id": len(self.sessions) + 1, "version": 0, "expirationDate": query["expirationDate"],
                   "token": token, "consumerToken": {"id": 1}, "employeeToken": {"id": 1}}
        with self._lock:
            self.sessions[token] = session
        return 200, {}, {"value": session}

    def _who_am_i(self, request: SandboxRequest) -> Response:
        if unquote(request.path_params["action"]) != ">whoAmI":
            return self.error_response(404, "Not found")
        company_id, token = _basic(request.headers.get("authorization", ""))
        if token not in self.sessions:
            return self.error_response(401, "Unauthorized")
        if company_id in ("", "0"):
            company = self.company
        elif company_id.isdigit() and int(company_id) in self.client_companies:
            company = self.client_companies[int(company_id)]
        else:
            return self.error_response(403, f"You do not have access to company {company_id}.")
        return 200, {}, {"value": {"employeeId": 7, "actualEmployeeId": 7, "companyId": company["id"],
                                   "company": company, "language": "no"}}


def _basic(header: str) -> tuple[str, str]:
    if not header.startswith("Basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password


if __name__ == "__main__":
    run_from_command_line(TripletexSandbox)
