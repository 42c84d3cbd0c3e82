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
        # Pushes (sync): ledger accounts by number, customers, vouchers whose postings balance.
        self.accounts = {number: 1000 + index for index, number in enumerate(
            ("1500", "1920", "2400", "2700", "2710", "3010", "3020", "7140"))}
        self.customers: list[dict] = []
        self.vouchers: list[dict] = []
        self.creations = 0
        self.add_route("GET", "/v2/ledger/account", self._account)
        self.add_route("GET", "/v2/customer", self._list_customers)
        self.add_route("POST", "/v2/customer", self._create_customer)
        self.add_route("GET", "/v2/ledger/voucher", self._list_vouchers)
        self.add_route("POST", "/v2/ledger/voucher", self._create_voucher)

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

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    def _unauthorized(self, request: SandboxRequest) -> Response | None:
        _, token = _basic(request.headers.get("authorization", ""))
        return None if token in self.sessions else self.error_response(401, "Unauthorized")

    def _account(self, request: SandboxRequest) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        number = request.query.get("number", [""])[0]
        values = [_fields({"id": self.accounts[number], "number": int(number)}, request)] \
            if number in self.accounts else []
        return 200, {}, {"fullResultSize": len(values), "from": 0, "count": len(values), "values": values}

    def _list_customers(self, request: SandboxRequest) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        wanted = request.query.get("customerAccountNumber", [None])[0]
        values = [_fields(row, request) for row in self.customers
                  if wanted is None or str(row.get("customerNumber")) == wanted]
        return 200, {}, {"fullResultSize": len(values), "from": 0, "count": len(values), "values": values}

    def _create_customer(self, request: SandboxRequest) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        body = request.parsed_body
        if not isinstance(body, dict) or not body.get("name"):
            return self.error_response(422, "Validation failed.", [{"field": "name", "message": "Kan ikke være null."}])
        with self._lock:
            row = {**body, "id": 5000 + len(self.customers)}
            self.customers.append(row)
            self.creations += 1
        return 201, {}, {"value": row}

    def _list_vouchers(self, request: SandboxRequest) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        query = {name: values[0] for name, values in request.query.items()}
        if not (_DATE.fullmatch(query.get("dateFrom", "")) and _DATE.fullmatch(query.get("dateTo", ""))):
            return self.error_response(422, "Validation failed.", [{"field": "dateFrom", "message": "Påkrevd."}])
        values = [_fields(row, request) for row in self.vouchers if query["dateFrom"] <= row["date"] < query["dateTo"]]
        return 200, {}, {"fullResultSize": len(values), "from": 0, "count": len(values), "values": values}

    def _create_voucher(self, request: SandboxRequest) -> Response:
        if refusal := self._unauthorized(request):
            return refusal
        body = request.parsed_body
        postings = body.get("postings") if isinstance(body, dict) else None
        if not isinstance(postings, list) or len(postings) < 2 or not _DATE.fullmatch(str(body.get("date"))):
            return self.error_response(422, "Validation failed.", [{"field": "postings", "message": "Minst to."}])
        if any((posting.get("account") or {}).get("id") not in self.accounts.values() for posting in postings):
            return self.error_response(422, "Validation failed.", [{"field": "account", "message": "Finnes ikke."}])
        customers = {row["id"] for row in self.customers}
        if any("customer" in posting and posting["customer"].get("id") not in customers for posting in postings):
            return self.error_response(422, "Validation failed.", [{"field": "customer", "message": "Finnes ikke."}])
        if round(sum(posting.get("amountGross") or 0 for posting in postings), 2) != 0:
            return self.error_response(422, "Validation failed.", [
                {"field": "postings", "message": "Bilaget er ikke i balanse."}])
        with self._lock:
            row = {**body, "id": 9000 + len(self.vouchers), "number": len(self.vouchers) + 1}
            self.vouchers.append(row)
            self.creations += 1
        return 201, {}, {"value": row}

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


def _fields(row: dict, request: SandboxRequest) -> dict:
    wanted = [name for name in request.query.get("fields", [""])[0].split(",") if name]
    return {name: row.get(name) for name in wanted} if wanted else row


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
