"""IdealSandbox: Rabo Smart Pay (iDEAL acquiring) token refresh and payment brands.

Rabobank publishes no OpenAPI description; the behaviour follows Rabobank's own SDKs
(rabobank-omnikassa-java-sdk ApiConnector): GET {base}/gatekeeper/refresh with the refresh
token as bearer answers {"token", "validUntil", "durationInMillis"}; GET
{base}/order/server/api/payment-brands with that access token answers the contract's brands.
Errors carry errorCode/errorMessage. The base path is /omnikassa-api-sandbox, as on the real
sandbox host.
Run it on its own with `python -m tests.sandboxes.ideal --port N`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from tests.sandboxes.base import Response, SandboxRequest, SandboxServer, run_from_command_line

BASE_PATH = "/omnikassa-api-sandbox"
DEFAULT_REFRESH_TOKEN = "eyJraWQiOiJzYW5kYm94In0.refresh-token-sandbox"


class IdealSandbox(SandboxServer):
    def __init__(
        self,
        *,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        ideal_active: bool = True,
        **server_options,
    ):
        super().__init__(**server_options)
        self.refresh_token = refresh_token
        self.access_tokens: set[str] = set()
        self.brands = [
            {"name": "IDEAL", "status": "Active" if ideal_active else "Inactive"},
            {"name": "PAYPAL", "status": "Inactive"},
            {"name": "MASTERCARD", "status": "Active"},
        ]
        self.add_route("GET", f"{BASE_PATH}/gatekeeper/refresh", self._refresh)
        self.add_route(
            "GET",
            f"{BASE_PATH}/order/server/api/payment-brands",
            lambda request: (200, {}, {"paymentBrands": self.brands}),
        )

    @property
    def api_base_url(self) -> str:
        return self.url + BASE_PATH

    def error_response(self, status: int, message: str) -> Response:
        return status, {}, {"errorCode": 5001 if status >= 500 else 5017, "errorMessage": message}

    def authenticate(self, request: SandboxRequest) -> Response | None:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if request.path.endswith("/gatekeeper/refresh"):
            if bearer == self.refresh_token:
                return None
            return (
                401,
                {},
                {"errorCode": 5001, "errorMessage": "The refresh token is invalid or expired."},
            )
        if bearer in self.access_tokens:
            return None
        return (
            401,
            {},
            {
                "errorCode": 5001,
                "errorMessage": "The access token is invalid or expired.",
                "consumerMessage": "Something went wrong, please try again.",
            },
        )

    def _refresh(self, request: SandboxRequest) -> Response:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.access_tokens.add(token)
        valid_until = datetime.now(UTC) + timedelta(hours=8)
        return (
            200,
            {},
            {
                "token": token,
                "validUntil": valid_until.isoformat(timespec="milliseconds"),
                "durationInMillis": 28_800_000,
            },
        )


if __name__ == "__main__":
    run_from_command_line(IdealSandbox)
