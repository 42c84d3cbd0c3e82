"""GraphSandbox: plays Microsoft Graph v1.0 calendar reads, checked against specs/msgraph-calendar.json.

Docs: https://learn.microsoft.com/graph/api/user-list-events ,
https://learn.microsoft.com/graph/api/calendar-list-events , https://learn.microsoft.com/graph/errors .
Behaviour played:
- `Authorization: Bearer <token>`; none or a wrong one is 401 `InvalidAuthenticationToken`.
- Users are found by id or userPrincipalName (case-insensitive, as in Azure AD); an unknown
  user is 404 `ErrorInvalidUser`, an unknown calendar 404 `ErrorItemNotFound`.
- `$top` and `$select` are honoured; `@odata.nextLink` points at the next page.
- Errors carry `innerError` with a request id and date, like Graph's.
Run it on its own with `python -m tests.sandboxes.msgraph --port N`.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecViolation, spec_validator

DEFAULT_ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJub25jZSI6InNhbmRib3gifQ.sandbox.graph"
DEFAULT_USER = "adele.vance@federation.example"


@dataclass
class SandboxMailbox:
    user_id: str
    default_events: list[dict] = field(default_factory=list)
    calendars: dict[str, dict] = field(
        default_factory=dict
    )  # calendar id -> {"name": ..., "events": [...]}


def sample_event(event_id: str, subject: str) -> dict:
    return {
        "id": event_id,
        "subject": subject,
        "isCancelled": False,
        "start": {"dateTime": "2025-03-01T10:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-01T12:00:00.0000000", "timeZone": "UTC"},
    }


class GraphSandbox(SandboxServer):
    def __init__(
        self, *, access_token: str = DEFAULT_ACCESS_TOKEN, validate: bool = True, **server_options
    ):
        super().__init__(
            validator=spec_validator("msgraph-calendar.json") if validate else None,
            **server_options,
        )
        self.access_token = access_token
        self.mailboxes: dict[str, SandboxMailbox] = {}
        self.add_mailbox(
            DEFAULT_USER,
            SandboxMailbox(
                user_id="87d349ed-44d7-43e1-9a83-5f2406dee5bd",
                default_events=[sample_event("AAMkAGI1AAAt9AHjAAA=", "Board meeting")],
                calendars={
                    "AAMkAGI2TGuLAAA=": {
                        "name": "Competitions",
                        "events": [sample_event("AAMkAGI1AAAt9AHkAAA=", "Nationals")],
                    }
                },
            ),
        )
        base = self.validator.base_path if self.validator else "/v1.0"
        self.add_route("GET", base + "/users/{user-id}/events", self._default_events)
        self.add_route("GET", base + "/users/{user-id}/calendars", self._calendars)
        self.add_route(
            "GET", base + "/users/{user-id}/calendars/{calendar-id}/events", self._calendar_events
        )

    def add_mailbox(self, user_principal_name: str, mailbox: SandboxMailbox) -> None:
        self.mailboxes[user_principal_name.lower()] = mailbox

    # hooks ------------------------------------------------------------------------------------

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self._error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if not hmac.compare_digest(token.encode(), self.access_token.encode()):
            return self._error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            )
        return None

    def error_response(self, status: int, message: str) -> Response:
        code = {
            400: "BadRequest",
            404: "ResourceNotFound",
            405: "MethodNotAllowed",
            429: "TooManyRequests",
            503: "ServiceUnavailable",
        }.get(status, "InternalServerError")
        return self._error(status, code, message)

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        first = violations[0]
        if first.kind == "unknown_operation":
            return self._error(400, "BadRequest", "Resource not found for the segment.")
        return self._error(400, "BadRequest", first.message)

    def _error(self, status: int, code: str, message: str) -> Response:
        inner = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": str(uuid.uuid4()),
            "client-request-id": str(uuid.uuid4()),
        }
        return (
            status,
            {"request-id": inner["request-id"]},
            {"error": {"code": code, "message": message, "innerError": inner}},
        )

    # routes -----------------------------------------------------------------------------------

    def _mailbox(self, request: SandboxRequest) -> SandboxMailbox | Response:
        user = unquote(request.path_params["user_id"])
        for upn, mailbox in self.mailboxes.items():
            if user.lower() in (upn, mailbox.user_id):
                return mailbox
        return self._error(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")

    def _collection(self, request: SandboxRequest, items: list[dict], context: str) -> Response:
        top = int(request.query.get("$top", ["10"])[0])
        select = [name for name in request.query.get("$select", [""])[0].split(",") if name]
        skip = int(request.query.get("$skip", ["0"])[0])
        page = items[skip : skip + top]
        if select:
            page = [{name: item[name] for name in ["id", *select] if name in item} for item in page]
        body = {
            "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#{context}",
            "value": page,
        }
        if skip + top < len(items):
            body["@odata.nextLink"] = f"{self.url}{request.path}?$top={top}&$skip={skip + top}"
        return 200, {}, body

    def _default_events(self, request: SandboxRequest) -> Response:
        mailbox = self._mailbox(request)
        if not isinstance(mailbox, SandboxMailbox):
            return mailbox
        return self._collection(
            request, mailbox.default_events, f"users('{mailbox.user_id}')/events"
        )

    def _calendars(self, request: SandboxRequest) -> Response:
        mailbox = self._mailbox(request)
        if not isinstance(mailbox, SandboxMailbox):
            return mailbox
        calendars = [
            {"id": calendar_id, "name": calendar["name"], "canEdit": True}
            for calendar_id, calendar in mailbox.calendars.items()
        ]
        return self._collection(request, calendars, f"users('{mailbox.user_id}')/calendars")

    def _calendar_events(self, request: SandboxRequest) -> Response:
        mailbox = self._mailbox(request)
        if not isinstance(mailbox, SandboxMailbox):
            return mailbox
        calendar = mailbox.calendars.get(unquote(request.path_params["calendar_id"]))
        if calendar is None:
            return self._error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return self._collection(
            request, calendar["events"], f"users('{mailbox.user_id}')/calendars/events"
        )


if __name__ == "__main__":
    run_from_command_line(GraphSandbox)
