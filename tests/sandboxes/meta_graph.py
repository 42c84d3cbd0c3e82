"""MetaGraphSandbox: plays the Meta Graph API nodes the hub reads for Facebook Pages and
Instagram professional accounts.

Docs: https://developers.facebook.com/docs/graph-api/overview ,
https://developers.facebook.com/docs/graph-api/guides/error-handling ,
https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof ,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user .
Meta publishes no OpenAPI for these nodes, so requests are checked by hand. Behaviour played:
- Versioned paths only (`/v19.0/...`); another shape is 400 "Unknown path components".
- The token comes from `Authorization: Bearer` or `access_token=`; none is 400 code 2500, an
  unknown one 400 OAuthException code 190 (Graph's status for bad tokens is 400, not 401).
- With `app_secret` set (an app with "Require App Secret"), a missing or wrong `appsecret_proof`
  is refused with code 100, like Graph.
- `/me` answers as the token's page or user; `/<ig-user-id>` answers when the token's page is
  linked to that Instagram account. Only the requested `fields` are returned (plus `id`).
Run it on its own with `python -m tests.sandboxes.meta_graph --port N`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_PAGE_ID = "104729938470123"
DEFAULT_PAGE_TOKEN = "EAAGsandboxPageToken0123456789"
DEFAULT_IG_USER_ID = "17841400008460056"
_VERSION = re.compile(r"v\d{1,2}\.\d")


@dataclass
class GraphIdentity:
    id: str
    name: str
    kind: str = "page"  # or "user"
    instagram_accounts: dict[str, str] = field(default_factory=dict)  # IG user id -> username


class MetaGraphSandbox(SandboxServer):
    def __init__(self, *, app_secret: str = "", **server_options):
        super().__init__(**server_options)
        self.app_secret = app_secret
        self.tokens: dict[str, GraphIdentity] = {
            DEFAULT_PAGE_TOKEN: GraphIdentity(
                id=DEFAULT_PAGE_ID,
                name="Sandbox Federation",
                instagram_accounts={DEFAULT_IG_USER_ID: "sandbox_federation"},
            ),
        }
        self.add_route("GET", "/{version}/me", self._me)
        self.add_route("GET", "/{version}/{node}", self._node)

    def add_token(self, token: str, identity: GraphIdentity) -> None:
        self.tokens[token] = identity

    # hooks ------------------------------------------------------------------------------------

    def error_response(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "OAuthException",
        code: int = 1,
        subcode: int | None = None,
    ) -> Response:
        error = {
            "message": message,
            "type": error_type,
            "code": code,
            "fbtrace_id": secrets.token_urlsafe(8),
        }
        if subcode is not None:
            error["error_subcode"] = subcode
        headers = {}
        if code == 190:  # Graph names the bad token in WWW-Authenticate too
            headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
        return status, headers, {"error": error}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        token = self._token(request)
        if not token:
            return self.error_response(
                400,
                "An active access token must be used to query information about the current user.",
                code=2500,
            )
        if token not in self.tokens:
            return self.error_response(
                400, "Invalid OAuth access token - Cannot parse access token", code=190
            )
        if self.app_secret:
            proof = request.query.get("appsecret_proof", [""])[0]
            expected = hmac.new(
                self.app_secret.encode(), token.encode(), hashlib.sha256
            ).hexdigest()
            if not proof:
                return self.error_response(
                    400,
                    "API calls from the server require an appsecret_proof argument",
                    error_type="GraphMethodException",
                    code=100,
                )
            if not hmac.compare_digest(proof, expected):
                return self.error_response(
                    400,
                    "Invalid appsecret_proof provided in the API argument",
                    error_type="GraphMethodException",
                    code=100,
                )
        return None

    # routes -----------------------------------------------------------------------------------

    @staticmethod
    def _token(request: SandboxRequest) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "oauth") and token:
            return token
        return request.query.get("access_token", [""])[0]

    @staticmethod
    def _fields(request: SandboxRequest) -> list[str]:
        return [
            name.strip() for name in request.query.get("fields", [""])[0].split(",") if name.strip()
        ]

    def _unknown_path(self, request: SandboxRequest) -> Response | None:
        if not _VERSION.fullmatch(request.path_params["version"]):
            return self.error_response(400, "Unknown path components: " + request.path, code=2500)
        return None

    def _me(self, request: SandboxRequest) -> Response:
        if (refusal := self._unknown_path(request)) is not None:
            return refusal
        identity = self.tokens[self._token(request)]
        known = {"id": identity.id, "name": identity.name}
        return self._with_fields(request, known)

    def _node(self, request: SandboxRequest) -> Response:
        if (refusal := self._unknown_path(request)) is not None:
            return refusal
        identity = self.tokens[self._token(request)]
        node = request.path_params["node"]
        if node == identity.id:
            return self._with_fields(request, {"id": identity.id, "name": identity.name})
        if node in identity.instagram_accounts:
            return self._with_fields(
                request, {"id": node, "username": identity.instagram_accounts[node]}
            )
        return self.error_response(
            400,
            f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to missing "
            "permissions, or does not support this operation.",
            error_type="GraphMethodException",
            code=100,
            subcode=33,
        )

    def _with_fields(self, request: SandboxRequest, known: dict) -> Response:
        wanted = self._fields(request) or ["id", "name"]
        unknown = [name for name in wanted if name not in known]
        if unknown:
            return self.error_response(
                400,
                f"(#100) Tried accessing nonexisting field ({unknown[0]})",
                error_type="OAuthException",
                code=100,
            )
        return 200, {}, {name: known[name] for name in ["id", *wanted] if name in known}


if __name__ == "__main__":
    run_from_command_line(MetaGraphSandbox)
