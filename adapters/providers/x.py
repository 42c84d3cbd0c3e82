"""X (formerly Twitter) API v2, over plain HTTPS through ProviderHttpClient.

Docs: https://docs.x.com/x-api/users/user-lookup-me (GET /2/users/me),
https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code
(OAuth 2.0 with PKCE, user-context bearer tokens, token endpoint /2/oauth2/token),
https://docs.x.com/x-api/fundamentals/response-codes-and-errors (RFC 7807-style error bodies),
https://docs.x.com/x-api/fundamentals/rate-limits .
Quirks:
- `/2/users/me` needs a *user-context* token (OAuth 2.0 authorization code, scope
  `users.read tweet.read`); an app-only bearer token is refused with 403.
- Errors come as `{"title", "detail", "type", "status"}`; a 200 may still carry an `errors`
  array next to `data` for partial failures, so a missing `data` is treated as a failure.
- A 429 carries `x-rate-limit-reset` (epoch seconds) rather than Retry-After; the shared
  client honours Retry-After only, so the resilience layer falls back to its own backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult
from adapters.vendor_errors import reset_header_errors

key = "x"
display_name = "X"


@dataclass(frozen=True)
class Config:
    access_token: str  # OAuth 2.0 user-context bearer token
    account_id: str = ""  # the numeric user id the token is expected to belong to
    base_url: str = field(default_factory=lambda: provider_base_url("x", "https://api.x.com"))
    timeout_seconds: float = 10.0


def authenticated_user(config: Config) -> dict:
    """`data` of GET /2/users/me: id, name, username."""
    with ProviderHttpClient(
        key,
        config.base_url,
        timeout=config.timeout_seconds,
        default_headers={"Authorization": f"Bearer {config.access_token}"},
        # https://docs.x.com/x-api/fundamentals/rate-limits: x-rate-limit-reset is epoch seconds
        classify_error=reset_header_errors("x-rate-limit-reset"),
    ) as client:
        response = client.request("GET", "/2/users/me")
    try:
        body = response.json()
    except ValueError:
        body = None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not data.get("id"):
        problems = body.get("errors") if isinstance(body, dict) else None
        detail = (
            "; ".join(
                str(p.get("detail") or p.get("title")) for p in problems if isinstance(p, dict)
            )
            if isinstance(problems, list)
            else "no user in the answer"
        )
        raise ProviderUnavailable(
            f"X answered GET /2/users/me without a user: {detail}",
            provider=key,
            code="malformed_response",
        )
    return data


def validate(config: Config) -> ValidationResult:
    user = authenticated_user(config)
    user_id, username = str(user["id"]), str(user.get("username", ""))
    if config.account_id and user_id != config.account_id:
        raise ProviderRejected(
            f"the connected X user is @{username} ({user_id}), not account {config.account_id}",
            provider=key,
            code="token_account_mismatch",
        )
    return ValidationResult(
        message=f"authenticated with X as @{username} ({user_id})",
        details={"id": user_id, "username": username},
    )
