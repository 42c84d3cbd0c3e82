"""PayPalSandbox: OAuth 2.0 client credentials and the webhooks list, checked against
specs/paypal-webhooks-v1.json.

Docs: https://developer.paypal.com/api/rest/authentication/ and
https://developer.paypal.com/docs/api/webhooks/v1/#webhooks_list. Behaviour played: the token
endpoint takes HTTP Basic client id and secret (wrong ones: 401 invalid_client) and issues a
bearer token; API calls without a token it issued are 401 AUTHENTICATION_FAILURE.
Run it on its own with `python -m tests.sandboxes.paypal --port N`.
"""

from __future__ import annotations

import base64
import hmac
import secrets

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line
from tests.sandboxes.openapi import SpecValidator, SpecViolation, spec_validator

DEFAULT_CLIENT_ID = "AZsandboxClientId0123456789"
DEFAULT_CLIENT_SECRET = "EHsandboxClientSecret0123456789"
TOKEN_PATH = "/v1/oauth2/token"

# POST /v1/oauth2/token is documented (https://developer.paypal.com/api/rest/authentication/) but is
# not part of the published webhooks description; written from that page in the description's style.
_TOKEN_NOT_IN_SPEC = {
    TOKEN_PATH: {
        "post": {
            "operationId": "oauth2.token",
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type"],
                            "additionalProperties": False,
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "response_type": {"type": "string"},
                                "ignoreCache": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "responses": {"200": {"description": "An access token."}},
        }
    }
}


def paypal_validator() -> SpecValidator:
    return spec_validator("paypal-webhooks-v1.json", extra_paths=_TOKEN_NOT_IN_SPEC)


class PayPalSandbox(SandboxServer):
    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        **server_options,
    ):
        super().__init__(validator=paypal_validator(), **server_options)
        self.client_id = client_id
        self.client_secret = client_secret
        self.issued_tokens: set[str] = set()
        self.webhooks = [
            {
                "id": "0EH40505U7160970P",
                "url": "https://hub.example/webhooks/paypal/1/",
                "event_types": [
                    {"name": "PAYMENT.CAPTURE.COMPLETED", "description": "Capture completed"}
                ],
                "links": [],
            }
        ]
        self.add_route("POST", TOKEN_PATH, self._token)
        self.add_route(
            "GET",
            "/v1/notifications/webhooks",
            lambda request: (200, {}, {"webhooks": self.webhooks}),
        )

    def error_response(self, status: int, message: str) -> Response:
        return (
            status,
            {},
            {
                "name": "INTERNAL_SERVER_ERROR" if status >= 500 else "INVALID_REQUEST",
                "message": message,
                "debug_id": secrets.token_hex(7),
                "links": [],
            },
        )

    def violations_response(self, violations: list[SpecViolation]) -> Response:
        return (
            400,
            {},
            {
                "name": "INVALID_REQUEST",
                "message": "Request is not well-formed, syntactically "
                "incorrect, or violates schema.",
                "debug_id": secrets.token_hex(7),
                "details": [
                    {"field": v.param, "issue": v.kind, "description": v.message}
                    for v in violations
                ],
            },
        )

    def authenticate(self, request: SandboxRequest) -> Response | None:
        authorization = request.headers.get("authorization", "")
        if request.path == TOKEN_PATH:
            expected = (
                "Basic "
                + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            )
            if hmac.compare_digest(authorization.encode(), expected.encode()):
                return None
            return (
                401,
                {},
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        if authorization.removeprefix("Bearer ") in self.issued_tokens:
            return None
        return (
            401,
            {},
            {
                "name": "AUTHENTICATION_FAILURE",
                "debug_id": secrets.token_hex(7),
                "links": [],
                "message": (
                    "Authentication failed due to invalid authentication credentials or a "
                    "missing Authorization header."
                ),
            },
        )

    def _token(self, request: SandboxRequest) -> Response:
        token = "A21AA" + secrets.token_urlsafe(24)
        with self._lock:
            self.issued_tokens.add(token)
        return (
            200,
            {},
            {
                "scope": "https://uri.paypal.com/services/applications/webhooks",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": 32400,
                "nonce": secrets.token_hex(16),
            },
        )


if __name__ == "__main__":
    run_from_command_line(PayPalSandbox)
