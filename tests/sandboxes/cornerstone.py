"""CornerstoneSandbox: a Cornerstone portal's OAuth2 token endpoint and the Transcript API calls
the hub makes. Cornerstone publishes no OpenAPI file (specs/SOURCES.md); requests are checked
against https://csod.dev/guides/getting-started/authentication.html and
https://csod.dev/guides/learning/transcript/examples.html:
  POST /services/api/oauth2/token  JSON {"clientId", "clientSecret", "grantType":
       "client_credentials", "scope"} -> {"access_token", "expires_in", "scope", "token_type"}
  GET  /services/api/v1/transcripts/overview?externalId=<user> -> {"data": [{"learningObjectId",
       "title", "status"}]}; an unknown user 404
  POST /services/api/v1/transcripts/assign {"externalId", "learningObjectId", "assignment"}
       -> 200; an unknown user or learning object 404; assigning what the transcript holds
       changes nothing.
A missing or expired token answers 401. Errors are {"status", "timeStamp", "error":
{"errorId", "message", "code"}} (the sandbox's reading of the portal's shape).
State: `users`, `learning_objects`, `transcripts` (user -> {lo id: status}), `assignments`
(successful assign calls), `expire_tokens()`, `tokens_issued`.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ASSIGNMENTS = ("registered", "approved", "requested")


class CornerstoneSandbox(SandboxServer):
    def __init__(self, *, client_id: str = "csod-sandbox-client", client_secret: str = "csod-sandbox-secret",
                 **options: Any):
        super().__init__(**options)
        self.client_id, self.client_secret = client_id, client_secret
        self.users: set[str] = set()
        self.learning_objects: dict[str, str] = {}
        self.transcripts: dict[str, dict[str, str]] = {}
        self.assignments = 0
        self.tokens_issued = 0
        self._tokens: dict[str, float] = {}
        self._state = threading.RLock()
        self.add_route("POST", "/services/api/oauth2/token", self._token)
        self.add_route("GET", "/services/api/v1/transcripts/overview", self._overview)
        self.add_route("POST", "/services/api/v1/transcripts/assign", self._assign)

    def add_learning_object(self, title: str) -> str:
        lo_id = str(uuid.uuid4())
        self.learning_objects[lo_id] = title
        return lo_id

    def expire_tokens(self) -> None:
        with self._state:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"status": status, "timeStamp": datetime.now(UTC).isoformat(),
                            "error": {"errorId": str(uuid.uuid4()), "message": message, "code": status}}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.path.endswith("/oauth2/token"):
            return None
        header = request.headers.get("authorization", "")
        with self._state:
            live = header.startswith("Bearer ") and self._tokens.get(header[7:], 0.0) > time.time()
        return None if live else self.error_response(401, "Unauthorized: invalid or expired access token.")

    def _token(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        if request.content_type != "application/json" or not isinstance(body, dict):
            return self.error_response(400, "The token request must be JSON.")
        if body.get("grantType") != "client_credentials" or not isinstance(body.get("scope"), str):
            return self.error_response(400, "grantType must be client_credentials and scope is required.")
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return 401, {}, {"error": "invalid_client", "error_description": "Unknown client or wrong secret."}
        token = secrets.token_urlsafe(32)
        with self._state:
            self._tokens[token] = time.time() + 3600
            self.tokens_issued += 1
        return 200, {}, {"access_token": token, "expires_in": 3600, "scope": body["scope"], "token_type": "Bearer"}

    def _overview(self, request: SandboxRequest) -> Response:
        user = (request.query.get("externalId") or [""])[0]
        if user not in self.users:
            return self.error_response(404, f"User '{user}' was not found.")
        rows = [{"learningObjectId": lo, "title": self.learning_objects[lo], "status": status}
                for lo, status in self.transcripts.get(user, {}).items()]
        return 200, {}, {"status": 200, "data": rows}

    def _assign(self, request: SandboxRequest) -> Response:
        body = request.parsed_body
        if request.content_type != "application/json" or not isinstance(body, dict) or \
                set(body) != {"externalId", "learningObjectId", "assignment"}:
            return self.error_response(400, "Expected {externalId, learningObjectId, assignment}.")
        if body["assignment"] not in ASSIGNMENTS or not _GUID.match(str(body["learningObjectId"])):
            return self.error_response(400, "assignment or learningObjectId is not valid.")
        if body["externalId"] not in self.users:
            return self.error_response(404, f"User '{body['externalId']}' was not found.")
        if body["learningObjectId"] not in self.learning_objects:
            return self.error_response(404, "Learning object not found.")
        with self._state:
            self.transcripts.setdefault(body["externalId"], {}).setdefault(body["learningObjectId"], "Registered")
            self.assignments += 1
        return 200, {}, {"status": 200, "data": {"externalId": body["externalId"],
                                                 "learningObjectId": body["learningObjectId"],
                                                 "status": "Registered"}}


if __name__ == "__main__":
    run_from_command_line(CornerstoneSandbox)
