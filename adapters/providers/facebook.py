"""Facebook Pages through the Meta Graph API, over plain HTTPS through ProviderHttpClient.

Docs: https://developers.facebook.com/docs/graph-api/overview (versioned paths, /me),
https://developers.facebook.com/docs/pages-api/getting-started (page access tokens),
https://developers.facebook.com/docs/graph-api/guides/error-handling (error body),
https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof ,
https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived .
Meta publishes no OpenAPI for the Pages part of the Graph API, so the sandbox follows these pages.
Quirks:
- Every path is versioned (`/v19.0/...`); the version is a config field so an upgrade is one change.
- `GET /me?fields=id,name` with a *page* access token answers as the page, so it proves the
  token and tells which page it belongs to; the hub checks that against the account's id.
- The token travels in `Authorization: Bearer`, never in the URL. When the app secret is known,
  `appsecret_proof` (HMAC-SHA256 of the token keyed with the app secret, hex) is sent as well:
  apps with "Require App Secret" refuse calls without it.
- Graph answers an invalid or expired token with HTTP 400 and `{"error": {"type":
  "OAuthException", "code": 190, ...}}`, not 401; the shared client classifies by status, so it
  surfaces as a rejection carrying Meta's message.
- `graph_get` is shared with the Instagram adapter, which speaks the same Graph API.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import quote

from adapters.errors import ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient, provider_base_url
from adapters.types import ValidationResult
from adapters.vendor_errors import meta_graph_errors

key = "facebook"
display_name = "Facebook"
GRAPH_VERSION = "v19.0"


@dataclass(frozen=True)
class Config:
    access_token: str  # the page access token of the account
    account_id: str = ""  # the page id the token is expected to belong to
    app_secret: str = ""  # enables appsecret_proof
    graph_version: str = GRAPH_VERSION
    base_url: str = field(
        default_factory=lambda: provider_base_url("facebook", "https://graph.facebook.com")
    )
    timeout_seconds: float = 10.0


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def graph_get(provider: str, config, node: str, *, fields: str) -> dict:
    """GET /<version>/<node>?fields=... with the config's token; the JSON object Graph returns.

    `config` is a facebook or instagram Config (access_token, app_secret, graph_version, base_url).
    """
    params = {"fields": fields}
    if config.app_secret:
        params["appsecret_proof"] = appsecret_proof(config.access_token, config.app_secret)
    path = f"/{config.graph_version}/{quote(node, safe='')}"
    with ProviderHttpClient(
        provider,
        config.base_url,
        timeout=config.timeout_seconds,
        default_headers={"Authorization": f"Bearer {config.access_token}"},
        classify_error=meta_graph_errors,
    ) as client:
        response = client.request("GET", path, params=params)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not body.get("id"):
        raise ProviderUnavailable(
            f"{provider} answered GET {path} without an object id",
            provider=provider,
            code="malformed_response",
        )
    return body


def validate(config: Config) -> ValidationResult:
    page = graph_get(key, config, "me", fields="id,name")
    page_id, name = str(page["id"]), str(page.get("name", ""))
    if config.account_id and page_id != config.account_id:
        raise ProviderRejected(
            f"the access token of account {config.account_id} belongs to '{name}' ({page_id}); "
            "store that page's own token",
            provider=key,
            code="token_account_mismatch",
        )
    return ValidationResult(
        message=f"authenticated with Facebook as '{name}' ({page_id})",
        details={"id": page_id, "name": name},
    )
