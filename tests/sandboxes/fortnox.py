"""FortnoxSandbox: Fortnox's REST API v3 (the part the hub uses) and its OAuth2 authorization server.

Fortnox's OpenAPI is not redistributable (tests/sandboxes/specs/SOURCES.md), so requests are
checked here by hand against the documentation: https://apps.fortnox.se/apidocs and
https://www.fortnox.se/developer/authorization/ (get-authorization-code, get-access-token,
get-refresh-token).

Start it in a test (`sandbox_factory(FortnoxSandbox)`, or the `fortnox_sandbox` fixture in
tests/sandboxes/fixtures_famc.py) or standalone: `python -m tests.sandboxes.fortnox --port 8930`,
which also serves the base `/__sandbox/` control endpoints. Point the hub at it with
PROVIDER_FORTNOX_BASE_URL=<url>, PROVIDER_FORTNOX_TOKEN_URL=<url>/oauth-v1/token and
PROVIDER_FORTNOX_AUTHORIZE_URL=<url>/oauth-v1/auth.

Credentials: `client_id`, `client_secret` and a ready `access_token` (all scopes, never expires
unless `expire_access_tokens()`), from the constructor, else FORTNOX_SANDBOX_CLIENT_ID /
FORTNOX_SANDBOX_CLIENT_SECRET / FORTNOX_SANDBOX_ACCESS_TOKEN, else the DEFAULT_* below.
`redirect_uris` (empty: any http(s) URI) restricts where the authorize endpoint redirects.

API (Authorization: Bearer <token>; each route needs its Fortnox scope):
  GET /3/companyinformation [companyinformation]            -> {"CompanyInformation": {...}}
  GET|POST /3/customers, GET /3/customers/{CustomerNumber} [customer]
  GET|POST /3/invoices, GET /3/invoices/{DocumentNumber} [invoice] (rows' AccountNumber must exist)
  POST /3/vouchers, GET /3/vouchers/{VoucherSeries}/{VoucherNumber} [bookkeeping] (rows must balance)
  A missing/unknown/expired token answers 401, a missing scope 403, bad input 400, unknown ids
  404, all as {"ErrorInformation": {"error": 1, "message", "code"}}. Fortnox documents the shape
  but not the message and code of each case: 2000423 ("Kan inte hitta kontot.", account not
  found) is its documented example, the other codes are the sandbox's own.
OAuth (RFC 6749 §4.1, RFC 7636):
  GET /oauth-v1/auth?client_id&redirect_uri&scope&state&response_type=code[&code_challenge&
    code_challenge_method=S256][&access_type=offline] -> 302 to redirect_uri?code=…&state=…, as if
    the user logged in and approved; protocol errors redirect with ?error=…&state=…, an unknown
    client or redirect URI answers 400 without redirecting. `deny_next_authorization()` makes the
    next one redirect with error=access_denied (the user declined).
  POST /oauth-v1/token (form body, client authenticated with HTTP Basic only):
    grant_type=authorization_code&code&redirect_uri[&code_verifier]  (the verifier must match the
    S256 challenge when one was sent; codes are single-use and live 10 minutes), or
    grant_type=refresh_token&refresh_token (rotates: the old refresh token stops working).
    -> {"access_token", "refresh_token", "scope", "expires_in": 3600, "token_type": "bearer"};
    errors 400 {"error": "invalid_grant"|…} or 401 {"error": "invalid_client"}.
State for tests: `customers`, `invoices`, `vouchers`, `accounts` (the BAS chart), `company`,
`authorizations` (issued codes), `issue_access_token(scopes)`, `expire_access_tokens()`,
`revoke_tokens()`, plus the base class's `requests`, faults and `go_down()`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_CLIENT_ID = "fortnox-sandbox-client"
DEFAULT_CLIENT_SECRET = "fortnox-sandbox-secret"
DEFAULT_ACCESS_TOKEN = "fortnox-sandbox-access-token"
SCOPES = ("companyinformation", "customer", "invoice", "bookkeeping", "payment", "article", "settings")
ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600
_ROUTE_SCOPES = {"companyinformation": "companyinformation", "customers": "customer", "invoices": "invoice",
                 "vouchers": "bookkeeping", "invoicepayments": "payment"}
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ACCOUNT_NOT_FOUND = 2000423
_BAS_CHART = {1510: "Kundfordringar", 1930: "Företagskonto", 2611: "Utgående moms 25 %", 2641: "Ingående moms",
              3010: "Licensavgifter", 3020: "Tävlingsavgifter", 3041: "Försäljning tjänster 25 %",
              3890: "Övriga rörelseintäkter", 5010: "Lokalhyra", 5800: "Resekostnader", 6570: "Bankkostnader"}


class FortnoxSandbox(SandboxServer):
    def __init__(self, *, client_id: str | None = None, client_secret: str | None = None,
                 access_token: str | None = None, redirect_uris: tuple[str, ...] = (), **options: Any):
        super().__init__(**options)
        self.client_id = client_id or os.environ.get("FORTNOX_SANDBOX_CLIENT_ID") or DEFAULT_CLIENT_ID
        self.client_secret = client_secret or os.environ.get("FORTNOX_SANDBOX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET
        self.access_token = access_token or os.environ.get("FORTNOX_SANDBOX_ACCESS_TOKEN") or DEFAULT_ACCESS_TOKEN
        self.redirect_uris = tuple(redirect_uris)
        self._init_state()
        self.add_route("GET", "/3/companyinformation", lambda request: (200, {}, {"CompanyInformation": self.company}))
        self.add_route("GET", "/3/customers", self._list("customers", "Customers"))
        self.add_route("POST", "/3/customers", self._create_customer)
        self.add_route("GET", "/3/customers/{number}", self._get("customers", "Customer", "customer"))
        self.add_route("GET", "/3/invoices", self._list("invoices", "Invoices"))
        self.add_route("POST", "/3/invoices", self._create_invoice)
        self.add_route("GET", "/3/invoices/{number}", self._get("invoices", "Invoice", "invoice"))
        self.add_route("POST", "/3/vouchers", self._create_voucher)
        self.add_route("GET", "/3/vouchers/{series}/{number}", self._get_voucher)
        self.add_route("GET", "/3/vouchers", self._list_vouchers)
        self.add_route("GET", "/3/invoicepayments", self._list("invoicepayments", "InvoicePayments"))
        self.add_route("POST", "/3/invoicepayments", self._create_invoice_payment)
        self.add_route("GET", "/oauth-v1/auth", self._authorize)
        self.add_route("POST", "/oauth-v1/token", self._token)

    def _init_state(self) -> None:
        self.company = {"Address": "Idrottens väg 1", "City": "Stockholm", "CompanyName": "Sandbox Förbundet",
                        "CountryCode": "SE", "DatabaseNumber": 1234567, "Email": "ekonomi@example.org",
                        "OrganizationNumber": "802000-0000", "VisitAddress": "", "ZipCode": "114 33"}
        self.accounts = dict(_BAS_CHART)
        self.customers: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.vouchers: dict[tuple[str, str], dict] = {}
        self.invoicepayments: dict[str, dict] = {}
        # Change notifications as Fortnox's WebSocket topics announce them, oldest first; a test
        # relays them to the hub (tests/sandboxes/fixtures_sync.py).
        self.events: list[dict] = []
        self.authorizations: dict[str, dict] = {}
        self._tokens: dict[str, dict] = {}
        self._refresh_tokens: dict[str, dict] = {}
        self._deny_next: str | None = None

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._init_state()

    def control_state(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "customers": len(self.customers), "invoices": len(self.invoices),
                "vouchers": len(self.vouchers), "authorizations": len(self.authorizations)}

    # tokens ----------------------------------------------------------------------------------

    def issue_access_token(self, scopes: tuple[str, ...] = SCOPES, *, seconds: int = ACCESS_TOKEN_SECONDS) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = {"scopes": set(scopes), "expires_at": time.time() + seconds}
        return token

    def expire_access_tokens(self) -> None:
        """Every access token stops working now, the configured `access_token` included."""
        with self._lock:
            for grant in self._tokens.values():
                grant["expires_at"] = 0.0
            self._tokens[self.access_token] = {"scopes": set(SCOPES), "expires_at": 0.0}

    def revoke_tokens(self) -> None:
        """The user disconnected the integration: access and refresh tokens are all void."""
        with self._lock:
            self._tokens = {self.access_token: {"scopes": set(), "expires_at": 0.0}}
            self._refresh_tokens.clear()

    def deny_next_authorization(self, error: str = "access_denied") -> None:
        self._deny_next = error

    def _grant_for(self, token: str) -> dict | None:
        with self._lock:
            grant = self._tokens.get(token)
            if grant is None and token == self.access_token:
                return {"scopes": set(SCOPES), "expires_at": float("inf")}
        return grant if grant and grant["expires_at"] > time.time() else None

    # hooks ----------------------------------------------------------------------------------

    def error_response(self, status: int, message: str, code: int = 2000000) -> Response:
        return status, {}, {"ErrorInformation": {"error": 1, "message": message, "code": code}}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if not request.path.startswith("/3/"):
            return None  # the OAuth endpoints authenticate the client themselves
        header = request.headers.get("authorization", "")
        grant = self._grant_for(header[7:]) if header.startswith("Bearer ") else None
        if grant is None:
            return self.error_response(401, "Invalid, expired or missing access token.", 2000311)
        needed = _ROUTE_SCOPES.get(request.path.split("/")[2])
        if needed and needed not in grant["scopes"]:
            return self.error_response(403, f"The access token lacks the scope '{needed}'.", 2000663)
        return None

    # API ------------------------------------------------------------------------------------

    def _list(self, store: str, plural: str):
        def handler(request: SandboxRequest) -> Response:
            rows = [row for row in getattr(self, store).values() if _matches(row, request.query)]
            meta = {"@CurrentPage": 1, "@TotalPages": 1, "@TotalResources": len(rows)}
            return 200, {}, {plural: rows, "MetaInformation": meta}
        return handler

    def _get(self, store: str, singular: str, noun: str):
        def handler(request: SandboxRequest) -> Response:
            found = getattr(self, store).get(request.path_params["number"])
            if found is None:
                return self.error_response(404, f"Can not find the {noun}.", 2000433)
            return 200, {}, {singular: found}
        return handler

    def _entity(self, request: SandboxRequest, name: str) -> dict | Response:
        body = request.parsed_body
        if request.content_type != "application/json" or not isinstance(body, dict) \
                or not isinstance(body.get(name), dict):
            return self.error_response(400, f'Expected a JSON body {{"{name}": {{...}}}}.', 2000588)
        return body[name]

    def _create_customer(self, request: SandboxRequest) -> Response:
        customer = self._entity(request, "Customer")
        if not isinstance(customer, dict):
            return customer
        if not str(customer.get("Name") or "").strip():
            return self.error_response(400, "Customer Name is required.", 2000587)
        with self._lock:
            number = str(customer.get("CustomerNumber") or len(self.customers) + 1)
            if number in self.customers:
                return self.error_response(400, f"Customer number {number} is already in use.", 2000637)
            self.customers[number] = {**customer, "CustomerNumber": number,
                                      "@url": f"{self.url}/3/customers/{number}"}
        return 201, {}, {"Customer": self.customers[number]}

    def _unknown_accounts(self, rows: list, field: str) -> list:
        return [row[field] for row in rows if row.get(field) is not None and _int(row[field]) not in self.accounts]

    def _create_invoice(self, request: SandboxRequest) -> Response:
        invoice = self._entity(request, "Invoice")
        if not isinstance(invoice, dict):
            return invoice
        if str(invoice.get("CustomerNumber") or "") not in self.customers:
            return self.error_response(400, f"Can not find customer '{invoice.get('CustomerNumber')}'.", 2000433)
        rows = invoice.get("InvoiceRows") or []
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            return self.error_response(400, "InvoiceRows must be a list of rows.", 2000588)
        if unknown := self._unknown_accounts(rows, "AccountNumber"):
            return self.error_response(400, f"Kan inte hitta kontot. ({unknown[0]})", ACCOUNT_NOT_FOUND)
        total = sum(float(row.get("Price") or 0) * float(row.get("DeliveredQuantity") or 1) for row in rows)
        with self._lock:
            number = str(len(self.invoices) + 1)
            self.invoices[number] = {**invoice, "DocumentNumber": number, "Total": round(total, 2),
                                     "Balance": round(total, 2), "Booked": False, "Cancelled": False,
                                     "Currency": invoice.get("Currency") or "SEK",
                                     "@url": f"{self.url}/3/invoices/{number}"}
            self._announce("invoices", "invoice-created-v1", number)
        return 201, {}, {"Invoice": self.invoices[number]}

    def _create_voucher(self, request: SandboxRequest) -> Response:
        voucher = self._entity(request, "Voucher")
        if not isinstance(voucher, dict):
            return voucher
        rows = voucher.get("VoucherRows")
        series_given = bool(str(voucher.get("VoucherSeries") or "").strip())
        if not series_given or not _DATE.fullmatch(str(voucher.get("TransactionDate"))):
            return self.error_response(400, "VoucherSeries and TransactionDate (YYYY-MM-DD) are required.", 2000587)
        if not isinstance(rows, list) or len(rows) < 2 or not all(isinstance(row, dict) for row in rows):
            return self.error_response(400, "A voucher needs at least two VoucherRows.", 2000588)
        if any(row.get("Account") is None for row in rows):
            return self.error_response(400, "Every VoucherRow needs an Account.", 2000587)
        if unknown := self._unknown_accounts(rows, "Account"):
            return self.error_response(400, f"Kan inte hitta kontot. ({unknown[0]})", ACCOUNT_NOT_FOUND)
        debit = round(sum(float(row.get("Debit") or 0) for row in rows), 2)
        credit = round(sum(float(row.get("Credit") or 0) for row in rows), 2)
        if debit != credit or debit == 0:
            return self.error_response(400, f"The voucher does not balance (debit {debit}, credit {credit}).", 2000755)
        series = str(voucher["VoucherSeries"])
        with self._lock:
            number = str(sum(1 for key in self.vouchers if key[0] == series) + 1)
            self.vouchers[(series, number)] = {**voucher, "VoucherSeries": series, "VoucherNumber": int(number),
                                               "Year": 1, "@url": f"{self.url}/3/vouchers/{series}/{number}"}
            self._announce("vouchers", "voucher-created-v1", number, series=series)
        return 201, {}, {"Voucher": self.vouchers[(series, number)]}

    def _list_vouchers(self, request: SandboxRequest) -> Response:
        query = {name: values[0] for name, values in request.query.items()}
        rows = [voucher for voucher in self.vouchers.values()
                if query.get("fromdate", "") <= voucher["TransactionDate"] <= query.get("todate", "9999-12-31")]
        meta = {"@CurrentPage": 1, "@TotalPages": 1, "@TotalResources": len(rows)}
        return 200, {}, {"Vouchers": rows, "MetaInformation": meta}

    def _create_invoice_payment(self, request: SandboxRequest) -> Response:
        payment = self._entity(request, "InvoicePayment")
        if not isinstance(payment, dict):
            return payment
        invoice = self.invoices.get(str(payment.get("InvoiceNumber")))
        if invoice is None:
            return self.error_response(400, f"Can not find invoice '{payment.get('InvoiceNumber')}'.", 2000433)
        if not _DATE.fullmatch(str(payment.get("PaymentDate"))) or not float(payment.get("Amount") or 0) > 0:
            return self.error_response(400, "Amount (> 0) and PaymentDate (YYYY-MM-DD) are required.", 2000587)
        with self._lock:
            number = str(len(self.invoicepayments) + 1)
            invoice["Balance"] = round(invoice["Balance"] - float(payment["Amount"]), 2)
            self.invoicepayments[number] = {**payment, "Number": number,
                                            "InvoiceNumber": int(invoice["DocumentNumber"]), "Booked": False,
                                            "@url": f"{self.url}/3/invoicepayments/{number}"}
            self._announce("invoicepayments", "invoicepayment-created-v1", number)
        return 201, {}, {"InvoicePayment": self.invoicepayments[number]}

    def _announce(self, topic: str, event_type: str, entity_id: str, *, series: str | None = None) -> None:
        self.events.append({"topic": topic, "offset": f"{len(self.events) + 1:019d}", "type": event_type,
                            "tenantId": self.company["DatabaseNumber"], "entityId": entity_id, "series": series,
                            "year": None, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())})

    def _get_voucher(self, request: SandboxRequest) -> Response:
        found = self.vouchers.get((request.path_params["series"], request.path_params["number"]))
        if found is None:
            return self.error_response(404, "Can not find the voucher.", 2000433)
        return 200, {}, {"Voucher": found}

    # OAuth ----------------------------------------------------------------------------------

    def _authorize(self, request: SandboxRequest) -> Response:
        query = {name: values[0] for name, values in request.query.items()}
        if query.get("client_id") != self.client_id:
            return 400, {}, {"error": "invalid_client", "error_description": "Unknown client_id."}
        redirect_uri = query.get("redirect_uri") or (self.redirect_uris[0] if self.redirect_uris else "")
        if urlsplit(redirect_uri).scheme not in ("http", "https") or (
                self.redirect_uris and redirect_uri not in self.redirect_uris):
            return 400, {}, {"error": "invalid_request", "error_description": "redirect_uri is not registered."}
        state = query.get("state", "")
        scopes = query.get("scope", "").split()
        problem = None
        if query.get("response_type") != "code":
            problem = ("unsupported_response_type", "response_type must be code")
        elif not state:
            problem = ("invalid_request", "state is required")
        elif not scopes or set(scopes) - set(SCOPES):
            problem = ("invalid_scope", f"scope must name some of: {' '.join(SCOPES)}")
        elif query.get("code_challenge") and query.get("code_challenge_method") != "S256":
            problem = ("invalid_request", "only code_challenge_method=S256 is supported")
        elif self._deny_next:
            problem, self._deny_next = (self._deny_next, "The user declined the authorization."), None
        if problem:
            return _redirect(redirect_uri, {"error": problem[0], "error_description": problem[1], "state": state})
        code = secrets.token_urlsafe(16)
        with self._lock:
            self.authorizations[code] = {"redirect_uri": query.get("redirect_uri"), "scopes": scopes,
                                         "code_challenge": query.get("code_challenge"), "used": False,
                                         "expires_at": time.time() + CODE_SECONDS,
                                         "access_type": query.get("access_type", "")}
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _token(self, request: SandboxRequest) -> Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        if not self._client_authenticated(request.headers.get("authorization", "")):
            return 401, {"WWW-Authenticate": 'Basic realm="fortnox"'}, {
                "error": "invalid_client", "error_description": "Client authentication failed."}
        form = request.parsed_body or {}
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            with self._lock:
                grant = self._refresh_tokens.pop(str(form.get("refresh_token")), None)
            if grant is None:
                return _oauth_error(400, "invalid_grant", "The refresh token is invalid or was already used.")
            return self._tokens_for(grant["scopes"])
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    def _client_authenticated(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Basic encoding.
        return secrets.compare_digest(unquote_plus(user), self.client_id) and \
            secrets.compare_digest(unquote_plus(password), self.client_secret)

    def _exchange_code(self, form: dict) -> Response:
        with self._lock:
            grant = self.authorizations.get(str(form.get("code")))
            if grant is None or grant["used"] or grant["expires_at"] < time.time():
                return _oauth_error(400, "invalid_grant", "The authorization code is invalid, expired or used.")
            grant["used"] = True
        if grant["redirect_uri"] and form.get("redirect_uri") != grant["redirect_uri"]:
            return _oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request.")
        if grant["code_challenge"]:
            verifier = str(form.get("code_verifier") or "")
            if not _VERIFIER.fullmatch(verifier) or _s256(verifier) != grant["code_challenge"]:
                return _oauth_error(400, "invalid_grant", "code_verifier does not match the code_challenge.")
        return self._tokens_for(grant["scopes"])

    def _tokens_for(self, scopes) -> Response:
        access = self.issue_access_token(tuple(scopes))
        refresh = secrets.token_urlsafe(24)
        with self._lock:
            self._refresh_tokens[refresh] = {"scopes": list(scopes)}
        return 200, {"Cache-Control": "no-store"}, {"access_token": access, "refresh_token": refresh,
                                                    "scope": " ".join(scopes), "expires_in": ACCESS_TOKEN_SECONDS,
                                                    "token_type": "bearer"}


def _redirect(uri: str, params: dict) -> Response:
    separator = "&" if urlsplit(uri).query else "?"
    return 302, {"Location": f"{uri}{separator}{urlencode(params)}"}, b""


def _oauth_error(status: int, error: str, description: str) -> Response:
    return status, {"Cache-Control": "no-store"}, {"error": error, "error_description": description}


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def _matches(row: dict, query: dict[str, list[str]]) -> bool:
    """Fortnox search parameters are lower-cased field names matched like ILIKE; others pass."""
    fields = {name.lower(): value for name, value in row.items()}
    return all(values[0].lower() in str(fields[name]).lower() for name, values in query.items() if name in fields)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


if __name__ == "__main__":
    run_from_command_line(FortnoxSandbox)
