"""ZiggySandbox: plays Ziggy's access-control API as adapters/providers/ziggy.py describes it
(Ziggy publishes no API description; the shapes come from the club brief, see that module).

- Every request needs `Authorization: Bearer <api key>` and `X-Client-Id: <client id>`;
  otherwise 401 `{"error": {"code": "unauthorized", "message": ...}}`.
- Bodies are checked field by field (types, required fields, no unknown fields); a request
  the real API would refuse is recorded as a violation (failing the test) and answered 422.
- Check-in opens a session per (user, court); a second check-in answers 409 already_checked_in
  with the open session's id. Check-out closes it (409 session_closed the second time).
- `signed_webhook(...)` builds a webhook as Ziggy sends it, signed like the brief's signer.
Run it on its own with `python -m tests.sandboxes.ziggy --port N` (delay via /__sandbox/faults).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_API_KEY = "zg_live_sandbox_4f8a1c2e9b7d6035"
DEFAULT_CLIENT_ID = "club-alpha"

_CHECKIN = {"user_id": (str, True), "court_id": (str, True), "timestamp": (str, True), "device_id": (str, False)}
_CHECKOUT = {"session_id": (str, True), "timestamp": (str, True)}
_CONSUMPTION = {"session_id": (str, True), "item_id": (str, True), "item_name": (str, True),
                "quantity": (int, True), "unit_price": ((int, float), True)}
_ACTIVE_QUERY = {"court_id", "user_id", "limit"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class ZiggySandbox(SandboxServer):
    def __init__(self, *, api_key: str = DEFAULT_API_KEY, client_id: str = DEFAULT_CLIENT_ID,
                 known_courts: set[str] | None = None, **server_options):
        super().__init__(**server_options)
        self.api_key = api_key
        self.client_id = client_id
        self.known_courts = known_courts  # None: any court id is a court
        self.sessions: dict[str, dict] = {}
        self.consumption: dict[str, list[dict]] = {}
        self.add_route("POST", "/api/v1/access/checkin", self._check_in)
        self.add_route("POST", "/api/v1/access/checkout", self._check_out)
        self.add_route("GET", "/api/v1/access/sessions/active", self._active)
        self.add_route("GET", "/api/v1/access/sessions/{session_id}", self._session)
        self.add_route("POST", "/api/v1/consumption/record", self._record)
        self.add_route("GET", "/api/v1/consumption/{session_id}", self._history)

    # hooks ------------------------------------------------------------------------------------

    def error_response(self, status: int, message: str, *, code: str | None = None, **extra) -> Response:
        code = code or {400: "bad_request", 401: "unauthorized", 404: "not_found", 409: "conflict",
                        422: "invalid", 429: "rate_limited"}.get(status, "internal_error")
        return status, {}, {"error": {"code": code, "message": message, **extra}}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        client = request.headers.get("x-client-id", "")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.api_key.encode()) \
                or not hmac.compare_digest(client.encode(), self.client_id.encode()):
            return self.error_response(401, "Invalid API key or client id")
        return None

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.sessions.clear()
            self.consumption.clear()

    def control_state(self) -> dict:
        with self._lock:
            return {"sessions": len(self.sessions),
                    "active_sessions": sum(1 for s in self.sessions.values() if s["status"] == "active")}

    # request checking -------------------------------------------------------------------------

    def _body(self, request: SandboxRequest, shape: dict) -> tuple[dict | None, Response | None]:
        body = request.parsed_body
        problems = []
        if request.content_type != "application/json":
            problems.append("Content-Type must be application/json")
        if not isinstance(body, dict):
            problems.append("the body must be a JSON object")
            body = {}
        for name, (kind, required) in shape.items():
            if name not in body:
                if required:
                    problems.append(f"'{name}' is required")
            elif isinstance(body[name], bool) or not isinstance(body[name], kind) or body[name] == "":
                problems.append(f"'{name}' has the wrong type")
        problems += [f"'{name}' is not a field" for name in body if name not in shape]
        if "timestamp" in body and isinstance(body["timestamp"], str):
            try:
                datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
            except ValueError:
                problems.append("'timestamp' is not ISO 8601")
        if problems:
            with self._lock:
                self._violations.extend(f"{request}: {problem}" for problem in problems)
            return None, self.error_response(422, "; ".join(problems))
        return body, None

    # routes -----------------------------------------------------------------------------------

    def _check_in(self, request: SandboxRequest) -> Response:
        body, refusal = self._body(request, _CHECKIN)
        if refusal:
            return refusal
        if self.known_courts is not None and body["court_id"] not in self.known_courts:
            return self.error_response(404, "Court not found", code="court_not_found")
        with self._lock:
            for session in self.sessions.values():
                if (session["user_id"], session["court_id"], session["status"]) == \
                        (body["user_id"], body["court_id"], "active"):
                    return self.error_response(409, "User already checked in", code="already_checked_in",
                                               session_id=session["session_id"])
            session = {"session_id": f"ses_{secrets.token_hex(8)}", "user_id": body["user_id"],
                       "court_id": body["court_id"], "status": "active", "checked_in_at": _now(),
                       "checked_out_at": None, "consumption_total": 0.0, "device_id": body.get("device_id")}
            self.sessions[session["session_id"]] = session
        return 201, {}, {"session_id": session["session_id"], "user_id": session["user_id"],
                         "checked_in_at": session["checked_in_at"],
                         "court": {"id": body["court_id"], "name": f"Court {body['court_id']}"}}

    def _check_out(self, request: SandboxRequest) -> Response:
        body, refusal = self._body(request, _CHECKOUT)
        if refusal:
            return refusal
        with self._lock:
            session = self.sessions.get(body["session_id"])
            if session is None:
                return self.error_response(404, "Session not found", code="session_not_found")
            if session["status"] != "active":
                return self.error_response(409, "Session already closed", code="session_closed")
            session["status"], session["checked_out_at"] = "closed", _now()
            opened = datetime.fromisoformat(session["checked_in_at"].replace("Z", "+00:00"))
            minutes = int((datetime.now(UTC) - opened).total_seconds() // 60)
            return 200, {}, {"session_id": session["session_id"], "checked_out_at": session["checked_out_at"],
                             "duration_minutes": minutes, "consumption_total": session["consumption_total"]}

    def _active(self, request: SandboxRequest) -> Response:
        query = {name: values[-1] for name, values in request.query.items()}
        unknown = set(query) - _ACTIVE_QUERY
        if unknown or ("limit" in query and not query["limit"].isdigit()):
            with self._lock:
                self._violations.append(f"{request}: unknown or bad query parameters {sorted(unknown)}")
            return self.error_response(422, "bad query parameters")
        with self._lock:
            found = [self._public(s) for s in self.sessions.values() if s["status"] == "active"
                     and query.get("court_id", s["court_id"]) == s["court_id"]
                     and query.get("user_id", s["user_id"]) == s["user_id"]]
        limit = int(query.get("limit") or 100)
        return 200, {}, {"data": found[:limit]}

    def _session(self, request: SandboxRequest) -> Response:
        with self._lock:
            session = self.sessions.get(request.path_params["session_id"])
            if session is None:
                return self.error_response(404, "Session not found", code="session_not_found")
            return 200, {}, self._public(session)

    def _record(self, request: SandboxRequest) -> Response:
        body, refusal = self._body(request, _CONSUMPTION)
        if refusal:
            return refusal
        with self._lock:
            session = self.sessions.get(body["session_id"])
            if session is None:
                return self.error_response(404, "Session not found", code="session_not_found")
            if session["status"] != "active":
                return self.error_response(409, "Session already closed", code="session_closed")
            total = float(Decimal(str(body["unit_price"])) * body["quantity"])
            record = {"consumption_id": f"con_{secrets.token_hex(8)}", "session_id": session["session_id"],
                      "item_id": body["item_id"], "item_name": body["item_name"], "quantity": body["quantity"],
                      "unit_price": body["unit_price"], "total_price": total, "recorded_at": _now()}
            self.consumption.setdefault(session["session_id"], []).append(record)
            session["consumption_total"] = round(session["consumption_total"] + total, 2)
        return 201, {}, record

    def _history(self, request: SandboxRequest) -> Response:
        with self._lock:
            session_id = request.path_params["session_id"]
            if session_id not in self.sessions:
                return self.error_response(404, "Session not found", code="session_not_found")
            return 200, {}, {"data": list(self.consumption.get(session_id, []))}

    @staticmethod
    def _public(session: dict) -> dict:
        return {name: session[name] for name in ("session_id", "user_id", "court_id", "status", "checked_in_at",
                                                 "checked_out_at", "consumption_total")}


def signed_webhook(event_type: str, data: dict, *, secret: str, timestamp_ms: int | None = None) -> tuple[bytes, dict]:
    """A webhook as Ziggy posts it: `X-Signature` = hex HMAC-SHA256 of "<X-Timestamp>.<body>",
    the timestamp in milliseconds like the brief's JavaScript signer."""
    timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    body = json.dumps({"event_type": event_type, "timestamp": _now(), "data": data}).encode()
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Signature": signature, "X-Timestamp": timestamp}


if __name__ == "__main__":
    run_from_command_line(ZiggySandbox)
