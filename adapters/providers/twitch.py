"""Twitch Helix API, over plain HTTPS through ProviderHttpClient.

Docs: https://dev.twitch.tv/docs/api/reference/#get-users ,
https://dev.twitch.tv/docs/authentication/ (app and user access tokens, Client-Id),
https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/ (token endpoint),
https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits .
Twitch publishes no OpenAPI description, so the sandbox follows the reference above.
Quirks:
- Every Helix call carries `Client-Id` (the app's client id) and `Authorization: Bearer`;
  a token minted for another client id is refused with 401 "Client ID and OAuth token do not match".
- `GET /helix/users` with no query answers the token's own user and therefore needs a user
  token; with `id=<broadcaster id>` it works with an app token too. An unknown id is 200 with
  an empty `data`, not a 404.
- A 429 carries `Ratelimit-Reset` (epoch seconds) rather than Retry-After; the shared client
  honours Retry-After only, so the resilience layer falls back to its own backoff.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult
from adapters.vendor_errors import reset_header_errors

key = "twitch"
display_name = "Twitch"


@dataclass(frozen=True)
class Config:
    client_id: str
    access_token: str
    channel_id: str = ""  # the broadcaster's user id; empty: the token's own user
    base_url: str = field(
        default_factory=lambda: provider_base_url("twitch", "https://api.twitch.tv")
    )
    timeout_seconds: float = 10.0


def get_users(config: Config) -> list[dict]:
    params = {"id": config.channel_id} if config.channel_id else None
    with ProviderHttpClient(
        key,
        config.base_url,
        timeout=config.timeout_seconds,
        default_headers={
            "Client-Id": config.client_id,
            "Authorization": f"Bearer {config.access_token}",
        },
        # https://dev.twitch.tv/docs/api/guide/#twitch-rate-limits: Ratelimit-Reset is epoch seconds
        classify_error=reset_header_errors("Ratelimit-Reset"),
    ) as client:
        response = client.request("GET", "/helix/users", params=params)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ProviderUnavailable(
            "Twitch answered GET /helix/users without a data list",
            provider=key,
            code="malformed_response",
        )
    return [user for user in body["data"] if isinstance(user, dict)]


def validate(config: Config) -> ValidationResult:
    users = get_users(config)
    if not users:
        which = (
            f"user with id {config.channel_id}" if config.channel_id else "user behind this token"
        )
        raise ProviderRejected(f"Twitch has no {which}", provider=key, code="channel_not_found")
    user = users[0]
    user_id, login = str(user.get("id", "")), str(user.get("login", ""))
    return ValidationResult(
        message=f"authenticated with Twitch; channel {login} ({user_id})",
        details={"id": user_id, "login": login},
    )
