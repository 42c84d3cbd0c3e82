"""Ziggy access control: its webhooks (court check-in/out and consumption, and any partner that
signs the same way), and its REST API for check-in, check-out, sessions and consumption
(described below, above `Config`).

Source: the club architecture brief (shared/seeds/003_…): events `access.checkin`,
`access.checkout`, `consumption.recorded`, each `{event_type, timestamp, data{session_id…}}`,
and the partner request signer it describes.
- `X-Signature` is the lowercase hex HMAC-SHA256 of `"{X-Timestamp}.{raw body}"`.
- `X-Timestamp` must be within the tolerance (5 minutes by default). The brief's reference
  signer uses JavaScript's `Date.now()`, i.e. milliseconds, so values above 10^11 are read
  as milliseconds; the signed string uses the header exactly as sent either way.
- Events carry no id; `external_id` is a digest of the whole event (see
  `generic.partner_event`), so a retried delivery maps to the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

import httpx

from adapters.errors import ProviderError, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.inbound import (
    InboundEvent,
    InboundRequest,
    MalformedPayload,
    SignatureInvalid,
    VerificationSecrets,
    json_body,
)
from adapters.providers.generic import PARTNER_EVENT_TYPES, partner_event
from adapters.signing import (
    check_freshness,
    constant_time_equals,
    hmac_sha256_hex,
    parse_unix_timestamp,
    require_secret,
)
from adapters.types import ValidationResult

key = "ziggy"
display_name = "Ziggy"
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
EVENT_TYPES = PARTNER_EVENT_TYPES
_MILLISECONDS_ABOVE = 10**11  # 10^11 s is the year 5138; 10^11 ms is 1973
_HEX_SHA256_LENGTH = 64


def verify(
    request: InboundRequest,
    secrets: VerificationSecrets,
    *,
    now: float | None = None,
    tolerance_seconds: int = 300,
) -> None:
    given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if len(given) != _HEX_SHA256_LENGTH:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header is missing or not a SHA-256 hex digest")
    timestamp_text = request.headers.get(TIMESTAMP_HEADER)
    timestamp = parse_unix_timestamp(timestamp_text, header=TIMESTAMP_HEADER)
    secret = require_secret(secrets.signing_key, "Ziggy signing secret")
    seconds = timestamp / 1000 if timestamp > _MILLISECONDS_ABOVE else timestamp
    check_freshness(seconds, now=now, tolerance_seconds=tolerance_seconds)
    expected = hmac_sha256_hex(secret, f"{timestamp_text}.".encode() + request.body)
    if not constant_time_equals(expected, given):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body")


def handshake(request: InboundRequest, secrets: VerificationSecrets) -> None:
    """Ziggy has no subscription handshake."""
    return None


def parse(request: InboundRequest) -> list[InboundEvent]:
    payload = json_body(request)
    items = payload if isinstance(payload, list) else [payload]
    events = []
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedPayload(f"event {position} is not an object")
        events.append(partner_event(item, provider=key))
    return events


# --- Ziggy access-control API (outbound) ------------------------------------------------------
# Ziggy publishes no API description; this is the hub's reading of the club architecture brief
# (shared/seeds/003_…, section "1. ZIGGY"), and tests/sandboxes/ziggy.py plays exactly this:
# - Every call: `Authorization: Bearer <api key>`, `X-Client-Id: <client id>`, JSON bodies,
#   a 5 s timeout by default. Each club gets its own API host (no public default), so the base
#   URL is part of the config; PROVIDER_ZIGGY_BASE_URL overrides it (sandbox, tests).
# - POST /api/v1/access/checkin {user_id, court_id, timestamp, device_id?}
#     201 {session_id, user_id, checked_in_at, court{id, name}}
#     409 {error{code: "already_checked_in", message, session_id}}: the user already has an open
#         session on that court; we treat it as that session (a redelivered scan after a crash
#         between Ziggy's answer and our commit lands here).
# - POST /api/v1/access/checkout {session_id, timestamp}
#     200 {session_id, checked_out_at, duration_minutes, consumption_total}
# - GET /api/v1/access/sessions/active[?court_id=&user_id=&limit=]  200 {data: [Session]}
# - GET /api/v1/access/sessions/{id}  200 Session
#     Session = {session_id, user_id, court_id, status: active|closed, checked_in_at,
#                checked_out_at|null, consumption_total}
# - POST /api/v1/consumption/record {session_id, item_id, item_name, quantity, unit_price}
#     201 Consumption = {consumption_id, session_id, item_id, item_name, quantity, unit_price,
#                        total_price, recorded_at}
# - GET /api/v1/consumption/{sessionId}  200 {data: [Consumption]}
# - Errors: {error{code, message}}; 401/403 bad key or client id, 404 unknown session or court,
#   409 conflicts above, 422 invalid body. Money is a JSON number in the club's currency.

DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Config:
    api_key: str
    client_id: str
    base_url: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def for_club(cls, *, api_key: str, client_id: str, club_base_url: str,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Config:
        """The club's own host, unless PROVIDER_ZIGGY_BASE_URL points elsewhere."""
        return cls(api_key=api_key, client_id=client_id, base_url=provider_base_url(key, club_base_url),
                   timeout_seconds=timeout_seconds)


@dataclass(frozen=True)
class CheckInResult:
    session_id: str
    checked_in_at: datetime
    court_id: str
    court_name: str = ""
    already_checked_in: bool = False


@dataclass(frozen=True)
class CheckOutResult:
    session_id: str
    checked_out_at: datetime
    duration_minutes: int
    consumption_total: Decimal


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    user_id: str
    court_id: str
    status: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    consumption_total: Decimal


@dataclass(frozen=True)
class ConsumptionInfo:
    consumption_id: str
    session_id: str
    item_id: str
    item_name: str
    quantity: int
    unit_price: Decimal
    total_price: Decimal
    recorded_at: datetime
    details: dict = field(default_factory=dict)


class ZiggyClient:
    """The Ziggy API for one club's key, on one pooled ProviderHttpClient (thread-safe)."""

    def __init__(self, config: Config) -> None:
        if not config.base_url:
            raise ProviderRejected("Ziggy has no API base URL configured", provider=key, code="no_base_url")
        self._http = ProviderHttpClient(key, config.base_url, timeout=config.timeout_seconds, default_headers={
            "Authorization": f"Bearer {config.api_key}", "X-Client-Id": config.client_id,
            "Accept": "application/json"}, classify_error=_classify_error)

    def check_in(self, *, user_id: str, court_id: str, timestamp: datetime, device_id: str = "") -> CheckInResult:
        body = {"user_id": user_id, "court_id": court_id, "timestamp": timestamp.isoformat()}
        if device_id:
            body["device_id"] = device_id
        try:
            answer = self._json(self._http.request("POST", "/api/v1/access/checkin", json=body))
        except AlreadyCheckedIn as exc:
            return CheckInResult(session_id=exc.session_id, checked_in_at=timestamp, court_id=court_id,
                                 already_checked_in=True)
        court = answer.get("court") if isinstance(answer.get("court"), dict) else {}
        return CheckInResult(session_id=_text(answer, "session_id"),
                             checked_in_at=_time(answer, "checked_in_at"),
                             court_id=str(court.get("id") or court_id), court_name=str(court.get("name") or ""))

    def check_out(self, *, session_id: str, timestamp: datetime) -> CheckOutResult:
        answer = self._json(self._http.request("POST", "/api/v1/access/checkout", json={
            "session_id": session_id, "timestamp": timestamp.isoformat()}))
        return CheckOutResult(session_id=_text(answer, "session_id"), checked_out_at=_time(answer, "checked_out_at"),
                              duration_minutes=int(answer.get("duration_minutes") or 0),
                              consumption_total=_money(answer, "consumption_total"))

    def active_sessions(self, *, court_id: str = "", user_id: str = "", limit: int | None = None) -> list[SessionInfo]:
        params = {name: value for name, value in (("court_id", court_id), ("user_id", user_id), ("limit", limit))
                  if value}
        answer = self._json(self._http.request("GET", "/api/v1/access/sessions/active", params=params))
        return [_session(item) for item in _data_list(answer, "GET /api/v1/access/sessions/active")]

    def session(self, *, session_id: str) -> SessionInfo:
        return _session(self._json(self._http.request("GET", f"/api/v1/access/sessions/{_segment(session_id)}")))

    def record_consumption(self, *, session_id: str, item_id: str, item_name: str, quantity: int,
                           unit_price: Decimal) -> ConsumptionInfo:
        answer = self._json(self._http.request("POST", "/api/v1/consumption/record", json={
            "session_id": session_id, "item_id": item_id, "item_name": item_name, "quantity": quantity,
            "unit_price": float(unit_price)}))
        return _consumption(answer)

    def consumption_history(self, *, session_id: str) -> list[ConsumptionInfo]:
        answer = self._json(self._http.request("GET", f"/api/v1/consumption/{_segment(session_id)}"))
        return [_consumption(item) for item in _data_list(answer, "GET /api/v1/consumption/{sessionId}")]

    @staticmethod
    def _json(response) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderUnavailable("Ziggy answered without a JSON object", provider=key,
                                      code="malformed_response")
        return body

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ZiggyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def validate(config: Config) -> ValidationResult:
    """Lists at most one active session: cheap, read-only, and proves the key and client id."""
    with ZiggyClient(config) as client:
        sessions = client.active_sessions(limit=1)
    return ValidationResult(message="authenticated with Ziggy access control",
                            details={"active_sessions_seen": len(sessions)})


class AlreadyCheckedIn(ProviderRejected):
    """409 already_checked_in: the user has an open session on that court, named here."""

    def __init__(self, message: str, *, session_id: str) -> None:
        super().__init__(message, provider=key, status_code=409, code="already_checked_in")
        self.session_id = session_id


def _classify_error(response: httpx.Response, error: ProviderError) -> ProviderError:
    if response.status_code != 409:
        return error
    try:
        problem = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return error
    session_id = problem.get("session_id") if isinstance(problem, dict) else None
    if problem.get("code") == "already_checked_in" and isinstance(session_id, str) and session_id:
        return AlreadyCheckedIn(error.message, session_id=session_id)
    return error


def _segment(value: str) -> str:
    return quote(value, safe="")


def _malformed(what: str) -> ProviderUnavailable:
    return ProviderUnavailable(f"Ziggy answered with {what}", provider=key, code="malformed_response")


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, (str, int)) or value == "":
        raise _malformed(f"no '{name}'")
    return str(value)


def _time(body: dict, name: str, *, optional: bool = False) -> datetime | None:
    value = body.get(name)
    if value is None and optional:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _malformed(f"an unreadable '{name}'") from None
    if parsed.tzinfo is None:
        raise _malformed(f"a '{name}' without a time zone")
    return parsed


def _money(body: dict, name: str) -> Decimal:
    value = body.get(name, 0)
    if isinstance(value, bool):
        raise _malformed(f"a non-numeric '{name}'")
    try:
        return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise _malformed(f"a non-numeric '{name}'") from None


def _data_list(body: dict, where: str) -> list[dict]:
    data = body.get("data")
    if not isinstance(data, list):
        raise _malformed(f"no data list to {where}")
    return [item for item in data if isinstance(item, dict)]


def _session(body: dict) -> SessionInfo:
    return SessionInfo(session_id=_text(body, "session_id"), user_id=str(body.get("user_id") or ""),
                       court_id=str(body.get("court_id") or ""), status=str(body.get("status") or "active"),
                       checked_in_at=_time(body, "checked_in_at"),
                       checked_out_at=_time(body, "checked_out_at", optional=True),
                       consumption_total=_money(body, "consumption_total"))


def _consumption(body: dict) -> ConsumptionInfo:
    return ConsumptionInfo(consumption_id=_text(body, "consumption_id"), session_id=_text(body, "session_id"),
                           item_id=str(body.get("item_id") or ""), item_name=str(body.get("item_name") or ""),
                           quantity=int(body.get("quantity") or 0), unit_price=_money(body, "unit_price"),
                           total_price=_money(body, "total_price"), recorded_at=_time(body, "recorded_at"))
