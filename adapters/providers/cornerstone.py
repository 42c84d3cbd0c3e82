"""Cornerstone OnDemand (Cornerstone Learning): course enrolments through the Transcript API,
and the CSV layout for portals loading enrolments with Edge Import instead.

Docs:
- Authentication (client credentials only): https://csod.dev/guides/getting-started/authentication.html
  (`POST https://<corpname>.csod.com/services/api/oauth2/token` with a JSON body
  {"clientId", "clientSecret", "grantType": "client_credentials", "scope"}; reuse the token
  until `expires_in` runs out)
- Transcript API: https://csod.dev/guides/learning/transcript and its examples
  https://csod.dev/guides/learning/transcript/examples.html (`GET /services/api/v1/transcripts/
  overview?externalId=<user>`; `POST /services/api/v1/transcripts/assign` with {"externalId",
  "learningObjectId", "assignment": "registered"} assigns, approves and registers a training)
- Edge Import (file loads): https://help.csod.com (Edge > Import); the loader maps a file's
  columns once per portal.
Quirks:
- Users are named by their external identifier (the portal's User ID); training by its
  learning object id (a GUID), which the integration's course mapping supplies.
- The Transcript API is user-centric and throttled; bulk loads belong in Edge Import, which is
  why a run falls back to writing the CSV file when the API is unavailable.
- Assigning a training already on the user's transcript changes nothing there, so a repeated
  assignment after a lost answer is harmless; a resumed run still looks at the transcript first.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from adapters import client_credentials
from adapters.errors import ProviderUnavailable
from adapters.http import provider_token_url
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import Enrollment, PushResult
from adapters.types import ValidationResult

key = "cornerstone"
display_name = "Cornerstone OnDemand"

TOKEN_PATH = "/services/api/oauth2/token"
DEFAULT_SCOPE = "transcript:read transcript:write"
# The Edge Import load file the hub writes: User ID and LO ID name the transcript row.
CSV_LAYOUT = "cornerstone-edge-import-transcript"
CSV_COLUMNS = ("User ID", "LO ID", "Status", "Registration Date", "Completion Date")
_STATUS = {"enrolled": "Registered", "completed": "Completed", "withdrawn": "Withdrawn"}


@dataclass(frozen=True)
class Config:
    portal_url: str  # https://<corpname>.csod.com
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = DEFAULT_SCOPE
    timeout_seconds: float = 15.0

    @property
    def token_url(self) -> str:
        return provider_token_url(key, self.portal_url.rstrip("/") + TOKEN_PATH)


def _cache_key(config: Config) -> tuple[str, str, str]:
    return config.token_url, config.client_id, config.scope


def access_token(config: Config) -> str:
    return client_credentials.token(key, config.token_url, cache_key=_cache_key(config),
                                    timeout=config.timeout_seconds,
                                    json={"clientId": config.client_id, "clientSecret": config.client_secret,
                                          "grantType": "client_credentials", "scope": config.scope})


def forget_credentials(config: Config) -> None:
    client_credentials.forget(_cache_key(config))


def token_expires_at(config: Config) -> float | None:
    return client_credentials.expires_at(_cache_key(config))


def _client(config: Config) -> LentClient:
    return pooled_client(key, config.portal_url.rstrip("/"), timeout=config.timeout_seconds,
                         headers={"Authorization": f"Bearer {access_token(config)}", "Accept": "application/json"})


def validate(config: Config) -> ValidationResult:
    """The token endpoint accepting the client is the proof: it checks id, secret and scopes."""
    forget_credentials(config)
    access_token(config)
    return ValidationResult(message=f"Cornerstone issued a token for {config.portal_url} ({config.scope})",
                            details={"scope": config.scope})


def push_enrollment(config: Config, enrollment: Enrollment) -> PushResult:
    body = {"externalId": enrollment.learner_id, "learningObjectId": enrollment.course_id,
            "assignment": "registered"}
    with _client(config) as client:
        client.request("POST", "/services/api/v1/transcripts/assign", json=body)
    return PushResult(remote_id=f"{enrollment.learner_id}:{enrollment.course_id}")


def find_enrollment(config: Config, enrollment: Enrollment) -> str | None:
    """The transcript row of this training, if an earlier attempt already assigned it."""
    with _client(config) as client:
        response = client.request("GET", "/services/api/v1/transcripts/overview",
                                  params={"externalId": enrollment.learner_id})
    try:
        rows = response.json().get("data") or []
    except (ValueError, AttributeError):
        raise ProviderUnavailable("cornerstone: the transcript overview is not JSON", provider=key,
                                  code="malformed_response") from None
    wanted = enrollment.course_id.lower()
    for row in rows if isinstance(rows, list) else []:
        found = row.get("learningObjectId") if isinstance(row, dict) else None
        if isinstance(found, str) and found.lower() == wanted:
            return f"{enrollment.learner_id}:{enrollment.course_id}"
    return None


def csv_row(enrollment: Enrollment) -> list[str]:
    return [enrollment.learner_id, enrollment.course_id, _STATUS.get(enrollment.status, enrollment.status),
            enrollment.enrolled_on.strftime("%m/%d/%Y"),
            enrollment.completed_on.strftime("%m/%d/%Y") if enrollment.completed_on else ""]
