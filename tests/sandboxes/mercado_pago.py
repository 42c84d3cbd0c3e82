"""MercadoPagoSandbox: GET /users/me with a bearer access token.

Docs: https://www.mercadopago.com.br/developers/en/reference (authentication) and the users
resource https://www.mercadolibre.com.ar/developers/en/docs/users. Mercado Pago publishes no
OpenAPI description, so the sandbox checks the one call it plays: no query, no body. A wrong
token is 401 in Mercado Pago's error shape.
Run it on its own with `python -m tests.sandboxes.mercado_pago --port N`.
"""

from __future__ import annotations

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

DEFAULT_ACCESS_TOKEN = "TEST-1234567890123456-010203-0123456789abcdef0123456789abcdef-123456789"


class MercadoPagoSandbox(SandboxServer):
    def __init__(
        self, *, access_token: str = DEFAULT_ACCESS_TOKEN, test_user: bool = True, **server_options
    ):
        super().__init__(**server_options)
        self.access_token = access_token
        self.user = {
            "id": 123456789,
            "nickname": "TESTFEDERATION",
            "site_id": "MLB",
            "country_id": "BR",
            "email": "test_user_1@testuser.com",
            "tags": ["normal", "test_user"] if test_user else ["normal"],
            "status": {"site_status": "active"},
        }
        self.add_route("GET", "/users/me", self._me)

    def error_response(self, status: int, message: str) -> Response:
        return (
            status,
            {},
            {
                "message": message,
                "error": "internal_error" if status >= 500 else "bad_request",
                "status": status,
                "cause": [],
            },
        )

    def authenticate(self, request: SandboxRequest) -> Response | None:
        if request.headers.get("authorization") == f"Bearer {self.access_token}":
            return None
        return (
            401,
            {},
            {
                "message": "invalid access token",
                "error": "unauthorized",
                "status": 401,
                "cause": [],
            },
        )

    def _me(self, request: SandboxRequest) -> Response:
        if request.query_string or request.body:
            with self._lock:
                self._violations.append("GET /users/me: takes no query and no body")
        return 200, {}, self.user


if __name__ == "__main__":
    run_from_command_line(MercadoPagoSandbox)
