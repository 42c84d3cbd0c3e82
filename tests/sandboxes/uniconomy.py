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

import re
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
        # Pushes (sync): customers, customer invoices and booked journal entries (signed amounts),
        # listed with `filter=<Field> eq '<value>'`; accounts must exist in the company's chart.
        self.accounts = {1500, 1920, 2400, 2700, 2710, 3010, 3020, 7140}
        self.customers: list[dict] = []
        self.invoices: list[dict] = []
        self.journalentries: list[dict] = []
        self.creations = 0
        for store in ("customers", "invoices", "journalentries"):
            self.add_route("GET", f"/api/biz/{store}", self._list(store))
        self.add_route("POST", "/api/biz/customers", self._create_customer)
        self.add_route("POST", "/api/biz/invoices", self._create_invoice)
        self.add_route("POST", "/api/biz/journalentries", self._book_journal_entries)

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

    def _next_id(self) -> int:
        return len(self.customers) + len(self.invoices) + len(self.journalentries) + 1

    def _list(self, store: str):
        def handler(request: SandboxRequest) -> Response:
            rows = getattr(self, store)
            if wanted := request.query.get("filter", [""])[0]:
                match = _FILTER.match(wanted)
                if match is None:
                    return self.error_response(400, f"The sandbox cannot evaluate filter={wanted}")
                rows = [row for row in rows if str(row.get(match["field"])) == match["value"].replace("''", "'")]
            selected = [name for name in request.query.get("select", [""])[0].split(",") if name]
            return 200, {}, [{name: row.get(name) for name in selected} if selected else row for row in rows]
        return handler

    def _create_customer(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        if not isinstance(body, dict) or not body.get("CustomerNumber") or not (body.get("Info") or {}).get("Name"):
            return self.error_response(400, "CustomerNumber and Info.Name are required.")
        with self._lock:
            row = {**body, "ID": self._next_id()}
            self.customers.append(row)
            self.creations += 1
        return 201, {}, row

    def _create_invoice(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        items = body.get("Items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return self.error_response(400, "Items are required.")
        if body.get("CustomerID") not in {row["ID"] for row in self.customers}:
            return self.error_response(400, f"Customer {body.get('CustomerID')} does not exist.")
        if any(item.get("AccountNumber") not in self.accounts for item in items):
            return self.error_response(400, "Account does not exist.")
        with self._lock:
            row = {**body, "ID": self._next_id(), "StatusCode": 42001}
            self.invoices.append(row)
            self.creations += 1
        return 201, {}, row

    def _book_journal_entries(self, request: SandboxRequest) -> Response:
        if request.query.get("action", [""])[0] != "book-journal-entries":
            return self.error_response(400, "Unknown action.")
        entries = request.parsed_body
        if not isinstance(entries, list) or not entries:
            return self.error_response(400, "A list of journal entries is required.")
        booked = []
        for entry in entries:
            lines = entry.get("DraftLines") or []
            if not lines or any(line.get("AccountNumber") not in self.accounts for line in lines):
                return self.error_response(400, "Account does not exist.")
            if round(sum(line.get("Amount") or 0 for line in lines), 2) != 0:
                return self.error_response(400, "The journal entry does not balance.")
        with self._lock:
            for entry in entries:
                row = {**entry, "ID": self._next_id(), "JournalEntryNumber": f"{len(self.journalentries) + 1}-2026"}
                self.journalentries.append(row)
                self.creations += 1
                booked.append(row)
        return 200, {}, booked

    def _company_settings(self, request: SandboxRequest) -> Response:
        settings = self.companies[request.headers["companykey"].lower()]
        if request.path_params["id"] != "1":
            return self.error_response(404, f"CompanySettings {request.path_params['id']} not found.")
        selected = [name for name in request.query.get("select", [""])[0].split(",") if name]
        unknown = [name for name in selected if name not in settings]
        if unknown:
            return self.error_response(400, f"Could not find a property named '{unknown[0]}' on CompanySettings.")
        return 200, {}, {name: settings[name] for name in selected} if selected else settings


_FILTER = re.compile(r"^(?P<field>[A-Za-z]+) eq '(?P<value>(?:[^']|'')*)'$")


if __name__ == "__main__":
    run_from_command_line(UniconomySandbox)
