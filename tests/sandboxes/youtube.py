"""YouTubeSandbox: plays YouTube Data API v3 `channels.list`.

Docs: https://developers.google.com/youtube/v3/docs/channels/list ,
https://developers.google.com/youtube/v3/docs/errors . Google's discovery document for this
API is not vendored in specs/, so parameters are checked by hand against the reference page.
Behaviour played:
- `part` is required and must name known parts; exactly one filter of `id`, `mine`,
  `forHandle`, `forUsername`, `managedByMe` is required.
- `Authorization: Bearer <token>` or `key=<API key>`; `mine=true` needs the bearer token.
  A wrong key is 400 "API key not valid", a wrong token 401, both in Google's error shape.
- An unknown channel id is a 200 list with no `items`, as YouTube answers.
Run it on its own with `python -m tests.sandboxes.youtube --port N`.
"""

from __future__ import annotations

import hmac
import secrets

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.google_calendar import google_error

DEFAULT_ACCESS_TOKEN = "ya29.sandbox-youtube-token"
DEFAULT_API_KEY = "AIzaSandboxYouTubeKey0123456789abcdefgh"
DEFAULT_CHANNEL_ID = "UCsandboxFederation01234"  # "UC" + 22 characters, like every channel id
_PARTS = {
    "auditDetails",
    "brandingSettings",
    "contentDetails",
    "contentOwnerDetails",
    "id",
    "localizations",
    "snippet",
    "statistics",
    "status",
    "topicDetails",
}
_FILTERS = ("id", "mine", "forHandle", "forUsername", "managedByMe")


class YouTubeSandbox(SandboxServer):
    def __init__(
        self,
        *,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        api_key: str = DEFAULT_API_KEY,
        **server_options,
    ):
        super().__init__(**server_options)
        self.access_token = access_token
        self.api_key = api_key
        self.channels: set[str] = {DEFAULT_CHANNEL_ID}
        self.own_channel = DEFAULT_CHANNEL_ID  # what mine=true answers for the token
        self.add_route("GET", "/youtube/v3/channels", self._list_channels)

    def error_response(self, status: int, message: str) -> Response:
        reason = {400: "badRequest", 404: "notFound", 429: "rateLimitExceeded"}.get(
            status, "backendError"
        )
        return google_error(status, message, reason)

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = request.query.get("key", [""])[0]
        if scheme.lower() == "bearer":
            if not hmac.compare_digest(token.encode(), self.access_token.encode()):
                return google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                    "authError",
                )
            return None
        if key:
            if not hmac.compare_digest(key.encode(), self.api_key.encode()):
                return google_error(
                    400, "API key not valid. Please pass a valid API key.", "badRequest"
                )
            return None
        return google_error(403, "The request is missing a valid API key.", "forbidden")

    def _list_channels(self, request: SandboxRequest) -> Response:
        query = request.query
        parts = [part for part in query.get("part", [""])[0].split(",") if part]
        if not parts:
            return google_error(400, "Required parameter: part", "required", location="part")
        unknown = [part for part in parts if part not in _PARTS]
        if unknown:
            return google_error(400, f"'{unknown[0]}'", "unknownPart", location="part")
        filters = [name for name in _FILTERS if name in query]
        if len(filters) != 1:
            return google_error(
                400,
                "Incompatible parameters specified in the request: " + ", ".join(filters)
                if filters
                else "No filter selected. Expected one of: " + ", ".join(_FILTERS),
                "incompatibleParameters" if filters else "missingRequiredParameter",
            )
        if "mine" in query:
            if "authorization" not in request.headers:
                return google_error(
                    401,
                    "The request uses the <code>mine</code> parameter but is not properly "
                    "authorized.",
                    "authorizationRequired",
                    location="mine",
                )
            found = [self.own_channel] if query["mine"][0] == "true" else []
        else:
            wanted = query.get("id", [""])[0].split(",")
            found = [channel for channel in wanted if channel in self.channels]
        body = {
            "kind": "youtube#channelListResponse",
            "etag": secrets.token_urlsafe(12),
            "pageInfo": {"totalResults": len(found), "resultsPerPage": 5},
        }
        if found:  # YouTube leaves `items` out altogether when nothing matched
            body["items"] = [
                {"kind": "youtube#channel", "etag": secrets.token_urlsafe(12), "id": channel}
                for channel in found
            ]
        return 200, {}, body


if __name__ == "__main__":
    run_from_command_line(YouTubeSandbox)
