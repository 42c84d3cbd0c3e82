"""ElksSandbox: plays the 46elks SMS API. 46elks publishes no machine-readable description, so
requests are checked against its documentation instead (https://46elks.se/docs/send-sms,
https://46elks.se/docs/sms-delivery-reports); a request the docs would not accept is recorded
as a violation (failing the test) and answered 400 in 46elks' plain-text error style.

Behaviour played:
- Basic auth with the API username and password; anything else is 401.
- POST /a1/sms, form-encoded: `from` (1-11 character alphanumeric sender or an E.164 number),
  `to` (E.164), `message` (non-empty), optional `whendelivered` (http(s) URL), `dryrun`,
  `flashsms`, `dontlog`. Answers the SMS as JSON with `id`, `status` "created", `parts` and
  `cost` in 1/10000 of the account currency; a dry run answers `estimated_cost` and no id.
- GET /a1/me: the account, with its `currency`.
Run it on its own with `python -m tests.sandboxes.elks46 --port N`.
"""

from __future__ import annotations

import base64
import hmac
import math
import re
import secrets
import threading
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_USERNAME = "u0123456789abcdef0123456789abcdef"
DEFAULT_PASSWORD = "P0123456789ABCDEF0123456789ABCDEF"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_SMS_FIELDS = {"from", "to", "message", "whendelivered", "dryrun", "flashsms", "dontlog"}
_YES_NO = {"yes", "no"}
_ASCII_SAFE = re.compile(r"^[\x0a\x0d\x20-\x7e£¥èéùìòÇØøÅåÆæßÉÄÖÑÜ§¿äöñüà¡]*$")


def parts_of(message: str) -> int:
    """46elks' own count, roughly: 160/153 for plain text, 70/67 otherwise."""
    single, per_part = (160, 153) if _ASCII_SAFE.match(message) else (70, 67)
    units = len(message.encode("utf-16-le")) // 2 if single == 70 else len(message)
    return 1 if units <= single else math.ceil(units / per_part)


class ElksSandbox(SandboxServer):
    def __init__(
        self,
        *,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        currency: str = "SEK",
        cost_per_part: int = 3500,
        **server_options: Any,
    ):
        super().__init__(**server_options)
        self.username = username
        self.password = password
        self.currency = currency
        self.cost_per_part = cost_per_part
        self._state = threading.Lock()
        self.sent: list[dict] = []  # the form of every SMS sent (not dry runs), plus its "id"
        self.dry_runs = 0
        self.add_route("POST", "/a1/sms", self._send_sms)
        self.add_route("GET", "/a1/me", self._me)

    def reset(self) -> None:
        super().reset()
        with self._state:
            self.sent = []
            self.dry_runs = 0

    def control_state(self) -> dict[str, Any]:
        return {"sent": len(self.sent), "dry_runs": self.dry_runs}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        if scheme.lower() != "basic" or not (
            hmac.compare_digest(user.encode(), self.username.encode())
            and hmac.compare_digest(password.encode(), self.password.encode())
        ):
            return 401, {}, "Unauthorized"
        return None

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, message

    def _refuse(self, request: SandboxRequest, message: str) -> Response:
        with self._lock:
            self._violations.append(f"{request}: {message}")
        return self.error_response(400, message)

    def _form_problem(self, request: SandboxRequest) -> str | None:
        if request.content_type != "application/x-www-form-urlencoded":
            return f"the body must be form-encoded, not {request.content_type or 'missing'}"
        pairs = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        names = [name for name, _ in pairs]
        form = dict(pairs)
        problems = [f"unknown parameter {name}" for name in names if name not in _SMS_FIELDS]
        problems += [f"{name} given twice" for name in set(names) if names.count(name) > 1]
        problems += [
            f"missing key {name}" for name in ("from", "to", "message") if not form.get(name)
        ]
        if form.get("from") and not (
            _E164.match(form["from"]) or _ALPHANUMERIC_SENDER.match(form["from"])
        ):
            problems.append("from must be an E.164 number or 1-11 letters and digits")
        if form.get("to") and not _E164.match(form["to"]):
            problems.append("to must be an E.164 number")
        if form.get("whendelivered") and not form["whendelivered"].startswith(
            ("https://", "http://")
        ):
            problems.append("whendelivered must be a URL")
        problems += [
            f"{name} must be yes or no"
            for name in ("dryrun", "flashsms")
            if name in form and form[name] not in _YES_NO
        ]
        return "; ".join(problems) or None

    def _send_sms(self, request: SandboxRequest) -> Response:
        if (problem := self._form_problem(request)) is not None:
            return self._refuse(request, problem)
        form = dict(parse_qsl(request.body.decode("utf-8"), keep_blank_values=True))
        parts = parts_of(form["message"])
        answer = {
            "status": "created",
            "direction": "outgoing",
            "from": form["from"],
            "to": form["to"],
            "message": form["message"],
            "parts": parts,
            "created": datetime.now(timezone.utc).replace(tzinfo=None).isoformat(),
        }
        if form.get("dryrun") == "yes":
            with self._state:
                self.dry_runs += 1
            return 200, {}, answer | {"estimated_cost": parts * self.cost_per_part}
        sms_id = "s" + secrets.token_hex(16)
        with self._state:
            self.sent.append(form | {"id": sms_id})
        return 200, {}, answer | {"id": sms_id, "cost": parts * self.cost_per_part}

    def _me(self, request: SandboxRequest) -> Response:
        return (
            200,
            {},
            {
                "id": self.username,
                "displayname": "Sandbox Elk",
                "currency": self.currency,
                "balance": 10_000_000,
                "mobilenumber": "+46700000000",
            },
        )


if __name__ == "__main__":
    run_from_command_line(ElksSandbox)
