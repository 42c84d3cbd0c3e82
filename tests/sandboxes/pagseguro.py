"""PagSeguroSandbox: PagBank's GET /public-keys/card with a bearer token.

Docs: https://developer.pagbank.com.br/reference/consultar-chave-publica. PagBank publishes no
OpenAPI description in a public repository, so the sandbox checks the one call it plays (no
query, no body, `Authorization: Bearer <token>`). A wrong token is 401 with PagBank's
error_messages shape; `has_public_key=False` plays an account that never created a key (404).
Run it on its own with `python -m tests.sandboxes.pagseguro --port N`.
"""

from __future__ import annotations

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_TOKEN = "e1b2c3d4-sandbox-token-0123456789abcdef0123456789abcdef"


class PagSeguroSandbox(SandboxServer):
    def __init__(
        self, *, token: str = DEFAULT_TOKEN, has_public_key: bool = True, **server_options
    ):
        super().__init__(**server_options)
        self.token = token
        self.has_public_key = has_public_key
        self.add_route("GET", "/public-keys/card", self._public_key)

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"error_messages": [{"code": str(status), "description": message}]}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") == f"Bearer {self.token}":
            return None
        return (
            401,
            {},
            {
                "error_messages": [
                    {
                        "code": "UNAUTHORIZED",
                        "description": "Invalid credential. Review AUTHORIZATION header",
                    }
                ]
            },
        )

    def _public_key(self, request: SandboxRequest) -> Response:
        if request.query_string or request.body:
            with self._lock:
                self._violations.append("GET /public-keys/card: takes no query and no body")
        if not self.has_public_key:
            return (
                404,
                {},
                {"error_messages": [{"code": "NOT_FOUND", "description": "Public key not found"}]},
            )
        return (
            200,
            {},
            {
                "public_key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsandbox",
                "created_at": 1767225600000,
            },
        )


if __name__ == "__main__":
    run_from_command_line(PagSeguroSandbox)
