"""MuxSandbox: plays the Mux Video API calls the hub makes, checked against specs/mux-video.json.

Docs: https://docs.mux.com/api-reference (HTTP Basic with an access token id and secret),
https://docs.mux.com/api-reference#video/operation/list-live-streams . Behaviour played:
- Basic auth with `token_id:token_secret`; anything else is 401 in Mux's error shape
  `{"error": {"type": "unauthorized", "messages": [...]}}`.
- Live streams: list (`limit`, `page`), newest first, shaped as the description's `LiveStream`.
Run it on its own with `python -m tests.sandboxes.mux --port N`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecValidator, SpecViolation, spec_validator

DEFAULT_TOKEN_ID = "44c819de-4add-4c9f-b2e9-384a0a71bede"
DEFAULT_TOKEN_SECRET = "sandboxMuxSecretKey0123456789abcdefghijklmnopqrstuv"

# GET /video/v1/live-streams is Mux's documented list call (docs link above; also in mux-go's
# docs/LiveStreamsApi.md `ListLiveStreams`), but the trimmed specs/mux-video.json kept only the
# POST on this path. Written by us from those pages in the description's own style; drop it once
# the spec file is refreshed.
_LIVE_STREAM_LIST_NOT_IN_SPEC = {
    "/video/v1/live-streams": {
        "get": {
            "operationId": "list-live-streams",
            "parameters": [
                {
                    "in": "query",
                    "name": "limit",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "integer", "format": "int32", "default": 25},
                },
                {
                    "in": "query",
                    "name": "page",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "integer", "format": "int32", "default": 1},
                },
                {
                    "in": "query",
                    "name": "stream_key",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "string"},
                },
                {
                    "in": "query",
                    "name": "status",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "schema": {"type": "string", "enum": ["active", "idle", "disabled"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "data": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/LiveStream"},
                                    }
                                },
                            }
                        }
                    },
                }
            },
        }
    }
}


# DELETE /video/v1/assets/{ASSET_ID} is documented (https://docs.mux.com/api-reference#video/
# operation/delete-asset: 204, no body) but not in the trimmed 2021 file.
_ASSET_DELETE_NOT_IN_SPEC = {
    "/video/v1/assets/{ASSET_ID}": {
        "delete": {
            "operationId": "delete-asset",
            "parameters": [
                {"in": "path", "name": "ASSET_ID", "required": True, "style": "simple",
                 "explode": False, "schema": {"type": "string"}},
            ],
            "responses": {"204": {"description": "No Content"}},
        }
    }
}


def mux_validator() -> SpecValidator:
    return spec_validator(
        "mux-video.json",
        extra_paths={**_LIVE_STREAM_LIST_NOT_IN_SPEC, **_ASSET_DELETE_NOT_IN_SPEC},
        reject_unknown_query_params=True,
    )


def mux_id() -> str:
    return secrets.token_urlsafe(33).replace("-", "0").replace("_", "1")[:44]


class MuxSandbox(SandboxServer):
    def __init__(
        self,
        *,
        token_id: str = DEFAULT_TOKEN_ID,
        token_secret: str = DEFAULT_TOKEN_SECRET,
        validate: bool = True,
        **server_options,
    ):
        super().__init__(validator=mux_validator() if validate else None, **server_options)
        self.token_id = token_id
        self.token_secret = token_secret
        self.live_streams: list[dict] = []
        self.assets: dict[str, dict] = {}
        self.add_route("GET", "/video/v1/live-streams", self._list_live_streams)
        # Court streams and highlight clips (iot): see tests/sandboxes/mux_video.py.
        from tests.sandboxes.mux_video import add_video_routes

        add_video_routes(self)

    def add_live_stream(self, *, status: str = "idle") -> dict:
        stream = {
            "id": mux_id(),
            "created_at": str(int(time.time())),
            "stream_key": secrets.token_hex(16),
            "status": status,
            "playback_ids": [{"id": mux_id(), "policy": "public"}],
            "reconnect_window": 60,
            "recent_asset_ids": [],
        }
        self.live_streams.insert(0, stream)
        return stream

    # hooks ------------------------------------------------------------------------------------

    def error_response(
        self, status: int, message: str, *, error_type: str | None = None
    ) -> Response:
        kind = error_type or {
            400: "invalid_parameters",
            401: "unauthorized",
            404: "not_found",
            429: "too_many_requests",
        }.get(status, "internal_error")
        return status, {}, {"error": {"type": kind, "messages": [message]}}

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        if violations[0].kind == "unknown_operation":
            return self.error_response(404, "The requested resource was not found")
        return self.error_response(400, violations[0].message)

    def authenticate(self, request: SandboxRequest) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or not (
            hmac.compare_digest(user.encode(), self.token_id.encode())
            and hmac.compare_digest(password.encode(), self.token_secret.encode())
        ):
            return self.error_response(401, "Unauthorized request")
        return None

    # routes -----------------------------------------------------------------------------------

    def _list_live_streams(self, request: SandboxRequest) -> Response:
        limit = int(request.query.get("limit", ["25"])[0])
        page = int(request.query.get("page", ["1"])[0])
        if not 1 <= limit <= 100 or page < 1:
            return self.error_response(400, "limit must be between 1 and 100 and page at least 1")
        start = (page - 1) * limit
        data = self.live_streams[start : start + limit]
        if self.validator is not None:
            for stream in data:
                for problem in self.validator.object_violations("LiveStream", stream):
                    with self._lock:
                        self._violations.append(
                            f"{request.method} {request.path}: answer is not a LiveStream: "
                            f"{problem}"
                        )
        return 200, {}, {"data": data}


if __name__ == "__main__":
    run_from_command_line(MuxSandbox)
