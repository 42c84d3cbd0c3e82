"""GoogleCalendarSandbox: plays Google Calendar API v3 events.list, checked against
specs/google-calendar.json.

Docs: https://developers.google.com/calendar/api/v3/reference/events/list ,
errors: https://developers.google.com/calendar/api/guides/errors . Behaviour played:
- `Authorization: Bearer <access token>` reaches every calendar in `calendars` with that
  calendar's `access_role`; `key=<API key>` reaches public calendars only, as a reader.
- No credentials is 401 `required`; a wrong bearer token is 401 `authError` "Invalid
  Credentials"; a wrong API key is 400 "API key not valid" (Google's own, odd, status).
- An unknown calendar (or a private one asked for by key) is 404 `notFound`.
- Every answer body is checked against the description's `Events` schema too.
Run it on its own with `python -m tests.sandboxes.google_calendar --port N`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecViolation, spec_validator

DEFAULT_ACCESS_TOKEN = "ya29.sandbox-google-calendar-token"
DEFAULT_API_KEY = "AIzaSandboxGoogleCalendarKey0123456789"
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(status: int, message: str, reason: str, **extra: Any) -> Response:
    """The error body every Google JSON API sends: `error.errors[]` with a reason, plus a status."""
    detail = {"message": message, "domain": "global", "reason": reason, **extra}
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
        }
    }
    return status, {}, body


@dataclass
class SandboxCalendar:
    summary: str
    access_role: str = "owner"  # what the OAuth-connected account may do here
    public: bool = False  # readable with an API key
    time_zone: str = "Europe/Stockholm"
    events: list[dict] = field(default_factory=list)


def sample_event(event_id: str, summary: str, start: str, end: str) -> dict:
    return {
        "kind": "calendar#event",
        "id": event_id,
        "status": "confirmed",
        "summary": summary,
        "start": {"dateTime": start},
        "end": {"dateTime": end},
        "eventType": "default",
    }


class GoogleCalendarSandbox(SandboxServer):
    def __init__(
        self,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        api_key: str = DEFAULT_API_KEY,
        validate: bool = True,
        **server_options,
    ):
        super().__init__(
            validator=spec_validator("google-calendar.json") if validate else None, **server_options
        )
        self.access_token = access_token
        self.api_key = api_key
        self.calendars: dict[str, SandboxCalendar] = {}
        self.add_calendar(
            "primary",
            SandboxCalendar(
                summary="Federation office",
                events=[
                    sample_event(
                        "evt1",
                        "Board meeting",
                        "2025-03-01T10:00:00+01:00",
                        "2025-03-01T12:00:00+01:00",
                    )
                ],
            ),
        )
        self.add_route("GET", "/calendar/v3/calendars/{calendarId}/events", self._list_events)

    def add_calendar(self, calendar_id: str, calendar: SandboxCalendar) -> None:
        self.calendars[calendar_id] = calendar

    # hooks ------------------------------------------------------------------------------------

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = request.query.get("key", [""])[0]
        if scheme.lower() == "bearer":
            if not hmac.compare_digest(token.encode(), self.access_token.encode()):
                return google_error(
                    401,
                    "Invalid Credentials",
                    "authError",
                    location="Authorization",
                    locationType="header",
                )
            return None
        if key:
            if not hmac.compare_digest(key.encode(), self.api_key.encode()):
                return google_error(
                    400, "API key not valid. Please pass a valid API key.", "badRequest"
                )
            return None
        return google_error(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
            "required",
        )

    def error_response(self, status: int, message: str) -> Response:
        reason = {400: "badRequest", 404: "notFound", 429: "rateLimitExceeded"}.get(
            status, "backendError"
        )
        return google_error(status, message, reason)

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        first = violations[0]
        if first.kind == "unknown_operation":
            return google_error(404, "Not Found", "notFound")
        return google_error(
            400, first.message, "invalidParameter", location=first.param, locationType="parameter"
        )

    # routes -----------------------------------------------------------------------------------

    def _list_events(self, request: SandboxRequest) -> Response:
        calendar_id = unquote(request.path_params["calendarId"])
        calendar = self.calendars.get(calendar_id)
        by_key = "authorization" not in request.headers
        if calendar is None or (by_key and not calendar.public):
            return google_error(404, "Not Found", "notFound")
        max_results = int(request.query.get("maxResults", ["250"])[0])
        if not 1 <= max_results <= 2500:
            return google_error(
                400,
                f"Invalid value '{max_results}'. Values must be within the range: [1, 2500]",
                "invalid",
                location="maxResults",
                locationType="parameter",
            )
        start = int(request.query.get("pageToken", ["0"])[0] or 0)
        page = calendar.events[start : start + max_results]
        body = {
            "kind": "calendar#events",
            "etag": f'"{secrets.token_hex(8)}"',
            "summary": calendar.summary,
            "description": "",
            "updated": "2025-01-01T00:00:00.000Z",
            "timeZone": calendar.time_zone,
            "accessRole": "reader" if by_key else calendar.access_role,
            "defaultReminders": [],
            "items": page,
        }
        if start + max_results < len(calendar.events):
            body["nextPageToken"] = str(start + max_results)
        self._check_shape("Events", body, request)
        return 200, {}, body

    def _check_shape(self, component: str, body: dict, request: SandboxRequest) -> None:
        if self.validator is None:
            return
        problems = self.validator.object_violations(component, body)
        with self._lock:
            self._violations.extend(
                f"{request.method} {request.path}: answer is not a {component}: {p}"
                for p in problems
            )


if __name__ == "__main__":
    run_from_command_line(GoogleCalendarSandbox)
