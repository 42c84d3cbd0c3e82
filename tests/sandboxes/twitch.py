"""TwitchSandbox: plays Twitch Helix `GET /helix/users`.

Docs: https://dev.twitch.tv/docs/api/reference/#get-users ,
https://dev.twitch.tv/docs/authentication/ , https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits .
Twitch publishes no OpenAPI description, so requests are checked by hand. Behaviour played:
- `Client-Id` and `Authorization: Bearer` are both required; a token minted for another client
  id is 401 "Client ID and OAuth token do not match", an unknown token 401 "Invalid OAuth token".
- A user token with no query answers its own user; an app token needs `id` or `login`
  (400 otherwise). At most 100 ids; unknown ids are simply absent from `data`.
- Every answer carries `Ratelimit-Limit/-Remaining/-Reset`.
Run it on its own with `python -m tests.sandboxes.twitch --port N`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_CLIENT_ID = "sandboxclientid0123456789abcd"
DEFAULT_USER_TOKEN = "sandboxusertoken0123456789abcd"
DEFAULT_APP_TOKEN = "sandboxapptoken0123456789abcde"
DEFAULT_USER = {
    "id": "141981764",
    "login": "sandboxfed",
    "display_name": "SandboxFed",
    "type": "",
    "broadcaster_type": "partner",
    "description": "Sandbox federation channel",
    "profile_image_url": "",
    "offline_image_url": "",
    "view_count": 0,
    "created_at": "2017-03-01T10:00:00Z",
}


@dataclass(frozen=True)
class TwitchToken:
    client_id: str
    user_id: str | None  # None for an app access token


class TwitchSandbox(SandboxServer):
    def __init__(self, **server_options):
        super().__init__(**server_options)
        self.users: dict[str, dict] = {DEFAULT_USER["id"]: dict(DEFAULT_USER)}
        self.tokens: dict[str, TwitchToken] = {
            DEFAULT_USER_TOKEN: TwitchToken(
                client_id=DEFAULT_CLIENT_ID, user_id=DEFAULT_USER["id"]
            ),
            DEFAULT_APP_TOKEN: TwitchToken(client_id=DEFAULT_CLIENT_ID, user_id=None),
        }
        self.add_route("GET", "/helix/users", self._users)

    def error_response(self, status: int, message: str) -> Response:
        names = {
            400: "Bad Request",
            401: "Unauthorized",
            429: "Too Many Requests",
            503: "Service Unavailable",
        }
        return (
            status,
            self._rate_limit_headers(),
            {"error": names.get(status, "Error"), "status": status, "message": message},
        )

    @staticmethod
    def _rate_limit_headers() -> dict[str, str]:
        return {
            "Ratelimit-Limit": "800",
            "Ratelimit-Remaining": "799",
            "Ratelimit-Reset": str(int(time.time()) + 60),
        }

    def authenticate(self, request: SandboxRequest) -> Response | None:
        client_id = request.headers.get("client-id", "")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self.error_response(401, "OAuth token is missing")
        if not client_id:
            return self.error_response(401, "Client-Id header required")
        known = self.tokens.get(token)
        if known is None:
            return self.error_response(401, "Invalid OAuth token")
        if known.client_id != client_id:
            return self.error_response(401, "Client ID and OAuth token do not match")
        return None

    def _users(self, request: SandboxRequest) -> Response:
        token = self.tokens[request.headers["authorization"].partition(" ")[2]]
        ids, logins = request.query.get("id", []), request.query.get("login", [])
        if len(ids) + len(logins) > 100:
            return self.error_response(
                400, "The sum of the id and login parameters exceeds the maximum of 100"
            )
        if not ids and not logins:
            if token.user_id is None:
                return self.error_response(400, "Must provide an ID, Login or OAuth Token")
            ids = [token.user_id]
        found = [
            user for user in self.users.values() if user["id"] in ids or user["login"] in logins
        ]
        return 200, self._rate_limit_headers(), {"data": found}


if __name__ == "__main__":
    run_from_command_line(TwitchSandbox)
