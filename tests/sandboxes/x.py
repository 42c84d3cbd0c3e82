"""XSandbox: plays X API v2 `GET /2/users/me`.

Docs: https://docs.x.com/x-api/users/user-lookup-me ,
https://docs.x.com/x-api/fundamentals/response-codes-and-errors ,
https://docs.x.com/x-api/fundamentals/rate-limits . X publishes an OpenAPI document at
api.x.com/2/openapi.json but none is vendored here, so requests are checked by hand.
Behaviour played:
- `Authorization: Bearer <token>`: a user-context token answers its user; an app-only token is
  403 "Unsupported Authentication"; none or an unknown one is 401 in X's problem shape.
- Every answer carries `x-rate-limit-limit/-remaining/-reset`; an injected 429 does too.
Run it on its own with `python -m tests.sandboxes.x --port N`.
"""

from __future__ import annotations

import hmac
import time

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_USER_TOKEN = "VGhpc0lzQVNhbmRib3hVc2VyVG9rZW46MTY5MDAwMDAwMDAwMDoxOmF0OjE"
DEFAULT_APP_TOKEN = "AAAAAAAAAAAAAAAAAAAAASandboxAppOnlyBearer"
DEFAULT_USER = {"id": "1456789012345678901", "name": "Sandbox Federation", "username": "sandboxfed"}


class XSandbox(SandboxServer):
    def __init__(self, **server_options):
        super().__init__(**server_options)
        self.users_by_token: dict[str, dict] = {DEFAULT_USER_TOKEN: dict(DEFAULT_USER)}
        self.app_tokens: set[str] = {DEFAULT_APP_TOKEN}
        self.add_route("GET", "/2/users/me", self._me)

    def error_response(
        self,
        status: int,
        message: str,
        *,
        title: str | None = None,
        problem_type: str = "about:blank",
    ) -> Response:
        titles = {
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found Error",
            429: "Too Many Requests",
            503: "Service Unavailable",
        }
        headers = self._rate_limit_headers(0 if status == 429 else 74)
        return (
            status,
            headers,
            {
                "title": title or titles.get(status, "Error"),
                "detail": message,
                "type": problem_type,
                "status": status,
            },
        )

    @staticmethod
    def _rate_limit_headers(remaining: int) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "75",
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self.error_response(401, "Unauthorized")
        if any(hmac.compare_digest(token.encode(), app.encode()) for app in self.app_tokens):
            return self.error_response(
                403,
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                title="Unsupported Authentication",
                problem_type="https://api.twitter.com/2/problems/unsupported-authentication",
            )
        if token not in self.users_by_token:
            return self.error_response(401, "Unauthorized")
        return None

    def _me(self, request: SandboxRequest) -> Response:
        token = request.headers["authorization"].partition(" ")[2]
        return 200, self._rate_limit_headers(74), {"data": self.users_by_token[token]}


if __name__ == "__main__":
    run_from_command_line(XSandbox)
