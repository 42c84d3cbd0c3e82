"""ConsioSandbox: the course-participant API as adapters/providers/consio.py describes it.

Consio publishes no API reference to check against (see the adapter's docstring), so this
sandbox plays exactly the interface the adapter documents: bearer API key, GET of a course,
participants listed by externalId and added with POST (a second POST with the same externalId
is refused 409, as a duplicate participant would be).
State: `api_key`, `courses` (course id -> participants list), `creations`.
"""
from __future__ import annotations

import threading
import uuid
from typing import Any
from urllib.parse import unquote

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

STATUSES = ("enrolled", "completed", "withdrawn")


class ConsioSandbox(SandboxServer):
    def __init__(self, *, api_key: str = "consio-sandbox-key", **options: Any):
        super().__init__(**options)
        self.api_key = api_key
        self.courses: dict[str, list[dict]] = {}
        self.creations = 0
        self._state = threading.RLock()
        self.add_route("GET", "/api/v1/courses/{course}", self._course)
        self.add_route("GET", "/api/v1/courses/{course}/participants", self._participants)
        self.add_route("POST", "/api/v1/courses/{course}/participants", self._add)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"error": message, "status": status}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "Invalid API key.")
        return None

    def _find(self, request: SandboxRequest) -> list | None:
        return self.courses.get(unquote(request.path_params["course"]))

    def _course(self, request: SandboxRequest) -> Response:
        participants = self._find(request)
        if participants is None:
            return self.error_response(404, "Course not found.")
        return 200, {}, {"id": unquote(request.path_params["course"]), "participants": len(participants)}

    def _participants(self, request: SandboxRequest) -> Response:
        participants = self._find(request)
        if participants is None:
            return self.error_response(404, "Course not found.")
        wanted = (request.query.get("externalId") or [None])[0]
        return 200, {}, {"participants": [p for p in participants if wanted in (None, p["externalId"])]}

    def _add(self, request: SandboxRequest) -> Response:
        participants = self._find(request)
        body = request.parsed_body
        if participants is None:
            return self.error_response(404, "Course not found.")
        required = ("externalId", "email", "name", "status", "enrolledDate")
        if not isinstance(body, dict) or any(not isinstance(body.get(k), str) or not body[k] for k in required) \
                or body["status"] not in STATUSES:
            return self.error_response(400, f"Required: {', '.join(required)}; status one of {', '.join(STATUSES)}.")
        with self._state:
            if any(p["externalId"] == body["externalId"] for p in participants):
                return self.error_response(409, "The participant is already on the course.")
            participant = {"id": str(uuid.uuid4()), **body}
            participants.append(participant)
            self.creations += 1
        return 201, {}, participant


if __name__ == "__main__":
    run_from_command_line(ConsioSandbox)
