"""Google Calendar API v3, over plain HTTPS through ProviderHttpClient.

Docs: https://developers.google.com/calendar/api/v3/reference/events/list ,
errors: https://developers.google.com/calendar/api/guides/errors ,
auth: https://developers.google.com/identity/protocols/oauth2/web-server#callinganapi .
The published description we build and test against is tests/sandboxes/specs/google-calendar.json
(converted from Google's discovery document, calendar.v3).
Quirks:
- A calendar id is an e-mail-like string ("primary", "team@group.calendar.google.com",
  "en.swedish#holiday@group.v.calendar.google.com"), so it is percent-encoded whole as one
  path segment.
- An OAuth access token goes in `Authorization: Bearer`; an API key (`key=` query parameter)
  reads public calendars only, so a calendar reached by key alone can never be pushed to.
- `events.list` answers with the calendar's `summary` and the caller's `accessRole`
  (none, freeBusyReader, reader, writer, owner). One event (`maxResults=1`) is enough to prove
  read access, and `accessRole` tells whether pushing events will be allowed.
- Google reports an exhausted quota as 403 `rateLimitExceeded`/`quotaExceeded` and a bad API
  key as 400 `keyInvalid`; the shared client classifies by status alone, so those surface as
  an auth failure and a rejection respectively, with Google's reason in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult
from adapters.vendor_errors import google_errors

key = "google_calendar"
display_name = "Google Calendar"
WRITABLE_ROLES = frozenset({"writer", "owner"})


@dataclass(frozen=True)
class Config:
    calendar_id: str
    access_token: str = ""  # OAuth bearer token; preferred over the API key when both are set
    api_key: str = ""
    needs_write: bool = False  # push or bidirectional sync: validation demands writer/owner
    base_url: str = field(
        default_factory=lambda: provider_base_url(
            "google_calendar", "https://www.googleapis.com/calendar/v3"
        )
    )
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not (self.access_token or self.api_key):
            raise ValueError("Google Calendar needs an OAuth access token or an API key")


def _client(config: Config) -> ProviderHttpClient:
    headers = {"Accept": "application/json"}
    if config.access_token:
        headers["Authorization"] = f"Bearer {config.access_token}"
    return ProviderHttpClient(
        key, config.base_url, timeout=config.timeout_seconds, default_headers=headers,
        classify_error=google_errors,
    )


def _json_object(response: httpx.Response, where: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderUnavailable(
            f"{display_name} answered {where} with a body that is not a JSON object",
            provider=key,
            code="malformed_response",
        )
    return body


def list_events(config: Config, *, max_results: int, page_token: str = "") -> dict:
    """One page of `events.list` on the configured calendar, as Google returns it."""
    params: dict[str, str | int] = {"maxResults": max_results}
    if page_token:
        params["pageToken"] = page_token
    if not config.access_token:
        params["key"] = config.api_key
    path = f"/calendars/{quote(config.calendar_id, safe='')}/events"
    with _client(config) as client:
        response = client.request("GET", path, params=params)
    return _json_object(response, "events.list")


def validate(config: Config) -> ValidationResult:
    page = list_events(config, max_results=1)
    role = str(page.get("accessRole", ""))
    name = str(page.get("summary") or config.calendar_id)
    if config.needs_write and role not in WRITABLE_ROLES:
        how = (
            "an API key reads public calendars only"
            if not config.access_token
            else "share the calendar with the connected account as 'Make changes to events'"
        )
        raise ProviderRejected(
            f"calendar '{name}' is readable but not writable (accessRole={role or 'unknown'}); pushing events "
            f"needs writer or owner: {how}",
            provider=key,
            code="calendar_read_only",
        )
    return ValidationResult(
        message=f"read calendar '{name}' on Google Calendar (access: {role or 'unknown'})",
        details={"calendar": name, "access_role": role, "time_zone": page.get("timeZone", "")},
    )
