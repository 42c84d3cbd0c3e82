"""Instagram professional accounts through the Meta Graph API (Instagram API with Facebook Login).

Docs: https://developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login ,
https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user ,
errors: https://developers.facebook.com/docs/graph-api/guides/error-handling .
Quirks:
- An Instagram professional account is reached through the Facebook Page it is linked to:
  the account's id is its IG user id, and the token is that page's (or the user's) access token.
- `GET /<version>/<ig-user-id>?fields=id,username` proves both the token and the account.
- Same transport, versioning, appsecret_proof and 400-for-bad-token behaviour as Facebook, so
  requests go through `facebook.graph_get`; the base URL is Instagram's own setting
  (PROVIDER_INSTAGRAM_BASE_URL) so it can be pointed elsewhere independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.http import provider_base_url
from adapters.providers.facebook import GRAPH_VERSION, graph_get
from adapters.types import ValidationResult

key = "instagram"
display_name = "Instagram"


@dataclass(frozen=True)
class Config:
    access_token: str
    account_id: str  # the IG user id
    app_secret: str = ""
    graph_version: str = GRAPH_VERSION
    base_url: str = field(
        default_factory=lambda: provider_base_url("instagram", "https://graph.facebook.com")
    )
    timeout_seconds: float = 10.0


def validate(config: Config) -> ValidationResult:
    account = graph_get(key, config, config.account_id, fields="id,username")
    username = str(account.get("username", ""))
    return ValidationResult(
        message=f"authenticated with Instagram as @{username} ({account['id']})",
        details={"id": str(account["id"]), "username": username},
    )
