"""Outlook calendars through Microsoft Graph v1.0, over plain HTTPS through ProviderHttpClient.

Docs: https://learn.microsoft.com/graph/api/user-list-events ,
https://learn.microsoft.com/graph/api/calendar-list-events ,
errors: https://learn.microsoft.com/graph/errors , throttling (429 + Retry-After):
https://learn.microsoft.com/graph/throttling .
The published description we build and test against is tests/sandboxes/specs/msgraph-calendar.json
(Microsoft's Calendar module slice of the v1.0 description).
Quirks:
- The description has `/users/{user-id}/...` paths only; `/me` is an undescribed alias that
  also does not work with application permissions. So the hub's `calendar_id` for Outlook names
  the owner too: `<user id or userPrincipalName>` for that user's default calendar, or
  `<user>/<calendar id>` for another of their calendars.
- Graph ids are URL-safe base64 and may end in "=", so each path segment is percent-encoded.
- `$top=1&$select=id` keeps the pre-flight answer to one event id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from adapters.errors import ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult

key = "outlook"
display_name = "Outlook"
# A user id is a GUID; a userPrincipalName is an e-mail-like name. Neither holds "/" or spaces.
_USER = re.compile(r"[^\s/]{1,200}")
_CALENDAR = re.compile(r"[^\s/]{1,250}")


def parse_calendar_id(value: str) -> tuple[str, str]:
    """`"<user>"` or `"<user>/<calendar id>"` -> (user, calendar id or ""); ValueError otherwise."""
    user, _, calendar = value.partition("/")
    if (
        not _USER.fullmatch(user)
        or (calendar and not _CALENDAR.fullmatch(calendar))
        or value.endswith("/")
    ):
        raise ValueError(
            "an Outlook calendar_id is '<user id or userPrincipalName>' for the default calendar "
            "or '<user>/<calendar id>', without spaces"
        )
    return user, calendar


@dataclass(frozen=True)
class Config:
    calendar_id: str
    access_token: str
    base_url: str = field(
        default_factory=lambda: provider_base_url("outlook", "https://graph.microsoft.com/v1.0")
    )
    timeout_seconds: float = 10.0


def _client(config: Config) -> ProviderHttpClient:
    return ProviderHttpClient(
        key,
        config.base_url,
        timeout=config.timeout_seconds,
        default_headers={
            "Authorization": f"Bearer {config.access_token}",
            "Accept": "application/json",
        },
    )


def _events_path(calendar_id: str) -> str:
    user, calendar = parse_calendar_id(calendar_id)
    user_path = f"/users/{quote(user, safe='')}"
    if calendar:
        return f"{user_path}/calendars/{quote(calendar, safe='')}/events"
    return f"{user_path}/events"


def list_events(config: Config, *, top: int, select: str = "id") -> dict:
    """One page of the calendar's events, as Graph returns it (`value`, `@odata.nextLink`)."""
    with _client(config) as client:
        response = client.request(
            "GET", _events_path(config.calendar_id), params={"$top": top, "$select": select}
        )
    return _json_object(response)


def _json_object(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise ProviderUnavailable(
            f"{display_name} answered with a body that is not an OData collection",
            provider=key,
            code="malformed_response",
        )
    return body


def validate(config: Config) -> ValidationResult:
    list_events(config, top=1)
    user, calendar = parse_calendar_id(config.calendar_id)
    which = f"calendar {calendar}" if calendar else "the default calendar"
    return ValidationResult(
        message=f"read {which} of {user} through Microsoft Graph",
        details={"user": user, "calendar": calendar or "default"},
    )
