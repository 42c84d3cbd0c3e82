"""Consio (course and event administration): course participants by API, or by CSV import file.

Consio publishes no public API reference or import specification that could be found (the
developer-documentation searches this module was written with returned nothing for Consio).
What is implemented here is therefore the hub's reading of a conventional course-participant
REST API, kept deliberately small and named in one place so it can be corrected against the
documentation a customer receives from Consio:
  GET  /api/v1/courses/{course id}                                   -> 200 (validation probe)
  GET  /api/v1/courses/{course id}/participants?externalId=<ref>     -> {"participants": [{"id", ...}]}
  POST /api/v1/courses/{course id}/participants  {"externalId", "email", "name", "status",
       "enrolledDate", "completedDate"}                               -> 201 {"id", ...}
  Authorization: Bearer <API key>.
The CSV layout (semicolon-separated, UTF-8 with BOM, the way Swedish spreadsheet imports read
files) is the fallback and the path for tenants without API access; its columns are those an
import of participants needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from adapters.errors import ProviderUnavailable
from adapters.http import provider_base_url
from adapters.http_pool import LentClient, pooled_client
from adapters.sync_types import Enrollment, PushResult
from adapters.types import ValidationResult

key = "consio"
display_name = "Consio"

CSV_LAYOUT = "consio-participants"
CSV_DELIMITER = ";"
CSV_COLUMNS = ("Kurs-ID", "Externt ID", "E-post", "Namn", "Status", "Anmäld", "Genomförd")
_STATUS = {"enrolled": "Anmäld", "completed": "Genomförd", "withdrawn": "Avanmäld"}


@dataclass(frozen=True)
class Config:
    api_key: str = field(repr=False)
    base_url: str = ""
    probe_course_id: str = ""  # a mapped course, read by validation
    timeout_seconds: float = 10.0


def base_url(configured: str = "") -> str:
    return provider_base_url(key, configured)


def _client(config: Config) -> LentClient:
    return pooled_client(key, config.base_url.rstrip("/"), timeout=config.timeout_seconds,
                         headers={"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"})


def _course_path(course_id: str) -> str:
    return f"/api/v1/courses/{quote(course_id, safe='')}"


def validate(config: Config) -> ValidationResult:
    with _client(config) as client:
        client.request("GET", _course_path(config.probe_course_id))
    return ValidationResult(message=f"Consio answered for course {config.probe_course_id}",
                            details={"course_id": config.probe_course_id})


def push_enrollment(config: Config, enrollment: Enrollment) -> PushResult:
    body = {"externalId": enrollment.reference, "email": enrollment.learner_email, "name": enrollment.learner_name,
            "status": enrollment.status, "enrolledDate": enrollment.enrolled_on.isoformat(),
            "completedDate": enrollment.completed_on.isoformat() if enrollment.completed_on else None}
    with _client(config) as client:
        response = client.request("POST", f"{_course_path(enrollment.course_id)}/participants", json=body)
    try:
        return PushResult(remote_id=str(response.json()["id"]))
    except (ValueError, KeyError, TypeError):
        raise ProviderUnavailable("consio: the participant answer carries no id", provider=key,
                                  code="malformed_response") from None


def find_enrollment(config: Config, enrollment: Enrollment) -> str | None:
    with _client(config) as client:
        response = client.request("GET", f"{_course_path(enrollment.course_id)}/participants",
                                  params={"externalId": enrollment.reference})
    try:
        rows = response.json().get("participants") or []
    except (ValueError, AttributeError):
        raise ProviderUnavailable("consio: the participant list is not JSON", provider=key,
                                  code="malformed_response") from None
    hit = next((row for row in rows if isinstance(row, dict) and row.get("externalId") == enrollment.reference), None)
    return str(hit["id"]) if hit and hit.get("id") is not None else None


def csv_row(enrollment: Enrollment) -> list[str]:
    return [enrollment.course_id, enrollment.reference, enrollment.learner_email, enrollment.learner_name,
            _STATUS.get(enrollment.status, enrollment.status), enrollment.enrolled_on.isoformat(),
            enrollment.completed_on.isoformat() if enrollment.completed_on else ""]
