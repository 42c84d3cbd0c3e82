"""OAuth 2.0 authorization-code flow: per-provider metadata, PKCE, token exchange and refresh.

Pure: no Django, no models, no tenants. Callers pass plain values (client id, the resolved
client secret, the code, the verifier) and get a `TokenSet` back or a typed ProviderError.

Specs: RFC 6749 (OAuth 2.0; §4.1 code grant, §5.2 error response, §6 refresh),
RFC 7636 (PKCE, S256), RFC 7591 §2 (names of client authentication methods).

Every authorize and token URL is overridable with PROVIDER_<NAME>_AUTHORIZE_URL and
PROVIDER_<NAME>_TOKEN_URL (NAME = the provider key; providers sharing another provider's
identity platform — YouTube on Google, Instagram on Facebook — fall back to that
provider's variables), so a deployment can reach a regional host and tests a local server.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit

from adapters.errors import ProviderAuthFailed, ProviderRejected, ProviderUnavailable
from adapters.http import ProviderHttpClient

ClientAuth = Literal["client_secret_basic", "client_secret_post"]
TOKEN_TIMEOUT_SECONDS = 15.0
# The RFC 6749 §5.2 error code inside the (redacted) error text ProviderHttpClient raises with.
_OAUTH_ERROR_CODE = re.compile(r'"error"\s*:\s*"([A-Za-z0-9_.-]{1,64})"')


@dataclass(frozen=True)
class OAuthProvider:
    """How one provider's authorization server is spoken to."""

    key: str
    display_name: str
    authorize_url: str
    token_url: str
    default_scopes: tuple[str, ...]
    client_auth: ClientAuth
    pkce: bool
    extra_authorize_params: tuple[tuple[str, str], ...] = ()
    # The identity platform whose PROVIDER_<NAME>_* variables apply when the provider's own are unset.
    platform: str | None = None
    docs: tuple[str, ...] = field(default=(), compare=False)

    def authorize_endpoint(self) -> str:
        return self._endpoint("AUTHORIZE_URL", self.authorize_url)

    def token_endpoint(self) -> str:
        return self._endpoint("TOKEN_URL", self.token_url)

    def _endpoint(self, suffix: str, default: str) -> str:
        for name in (self.key, self.platform):
            if name:
                value = os.environ.get(f"PROVIDER_{re.sub(r'[^A-Z0-9]', '_', name.upper())}_{suffix}", "").strip()
                if value:
                    return value
        return default


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint granted. `refresh_token` is None when the provider issued none
    (or, on refresh, kept the old one); `expires_at` None when it did not say."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scope: tuple[str, ...]
    token_type: str = "Bearer"

    def __repr__(self) -> str:  # tokens must never reach a log through a repr
        return f"TokenSet(expires_at={self.expires_at!r}, scope={self.scope!r}, refresh_token_issued=" \
               f"{self.refresh_token is not None})"


@dataclass(frozen=True)
class PkcePair:
    verifier: str
    challenge: str
    method: str = "S256"


def pkce_pair() -> PkcePair:
    """A fresh RFC 7636 verifier (43 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)[:64]
    return PkcePair(verifier=verifier, challenge=pkce_challenge(verifier))


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(provider: OAuthProvider, *, client_id: str, redirect_uri: str, state: str,
                      scopes: tuple[str, ...] | None = None, code_challenge: str | None = None) -> str:
    """The URL the user's browser is sent to (RFC 6749 §4.1.1)."""
    params: dict[str, str] = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                              "state": state}
    scope = " ".join(scopes if scopes is not None else provider.default_scopes)
    if scope:
        params["scope"] = scope
    if provider.pkce and code_challenge:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    params.update(dict(provider.extra_authorize_params))
    endpoint = urlsplit(provider.authorize_endpoint())
    query = "&".join(part for part in (endpoint.query, urlencode(params)) if part)
    return urlunsplit((endpoint.scheme, endpoint.netloc, endpoint.path, query, ""))


def exchange_code(provider: OAuthProvider, *, client_id: str, client_secret: str, code: str, redirect_uri: str,
                  code_verifier: str | None, timeout: float = TOKEN_TIMEOUT_SECONDS) -> TokenSet:
    """Trade an authorization code for tokens (RFC 6749 §4.1.3)."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if provider.pkce and code_verifier:
        form["code_verifier"] = code_verifier
    return _token_request(provider, form, client_id=client_id, client_secret=client_secret, timeout=timeout)


def refresh_tokens(provider: OAuthProvider, *, client_id: str, client_secret: str, refresh_token: str,
                   timeout: float = TOKEN_TIMEOUT_SECONDS) -> TokenSet:
    """A new access token for a refresh token (RFC 6749 §6). Providers that rotate return a
    new refresh token, which the caller must store: the old one stops working."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_request(provider, form, client_id=client_id, client_secret=client_secret, timeout=timeout)


def _token_request(provider: OAuthProvider, form: dict[str, str], *, client_id: str, client_secret: str,
                   timeout: float) -> TokenSet:
    # The client's base is the origin and the request names the full path: httpx would add a
    # trailing slash to a base URL ending in the token path, which servers answer 404.
    endpoint = urlsplit(provider.token_endpoint())
    origin = urlunsplit((endpoint.scheme, endpoint.netloc, "", "", ""))
    path = urlunsplit(("", "", endpoint.path or "/", endpoint.query, ""))
    auth = None
    if provider.client_auth == "client_secret_basic":
        # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
        auth = (quote_plus(client_id), quote_plus(client_secret))
    else:
        form = {**form, "client_id": client_id, "client_secret": client_secret}
    issued_at = datetime.now(timezone.utc)
    client = ProviderHttpClient(f"{provider.key} token endpoint", origin, timeout=timeout, auth=auth,
                                default_headers={"Accept": "application/json"})
    try:
        response = client.request("POST", path, data=form)
    except ProviderAuthFailed as exc:
        raise ProviderAuthFailed(_token_failure(provider, exc), provider=provider.key, status_code=exc.status_code,
                                 code=_oauth_error_code(exc.message) or "invalid_client") from exc
    except ProviderRejected as exc:
        # A 400 from a token endpoint (invalid_grant, invalid_client, ...) is not fixed by retrying:
        # the grant or the client registration needs a person.
        raise ProviderAuthFailed(_token_failure(provider, exc), provider=provider.key, status_code=exc.status_code,
                                 code=_oauth_error_code(exc.message) or "invalid_request") from exc
    except ProviderUnavailable as exc:
        raise type(exc)(f"{provider.display_name} token endpoint unavailable: {exc.message}", provider=provider.key,
                        status_code=exc.status_code, retry_after=exc.retry_after, code=exc.code) from exc
    finally:
        client.close()
    return _parse_token_response(provider, response, issued_at=issued_at)


def _token_failure(provider: OAuthProvider, exc: ProviderRejected) -> str:
    code = _oauth_error_code(exc.message)
    return (f"{provider.display_name} token endpoint refused the request (HTTP {exc.status_code}"
            f"{', ' + code if code else ''})")


def _oauth_error_code(message: str) -> str | None:
    match = _OAUTH_ERROR_CODE.search(message)
    return match.group(1) if match else None


def _parse_token_response(provider: OAuthProvider, response, *, issued_at: datetime) -> TokenSet:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        # A 2xx without a token is a broken or impersonated endpoint; do not echo the body (it may hold tokens).
        raise ProviderUnavailable(f"{provider.display_name} token endpoint answered {response.status_code} without "
                                  "an access_token", provider=provider.key, code="malformed_token_response")
    expires_in = body.get("expires_in")
    expires_at = None
    if isinstance(expires_in, (int, float, str)) and str(expires_in).strip().isdigit():
        expires_at = issued_at + timedelta(seconds=int(str(expires_in).strip()))
    refresh = body.get("refresh_token")
    return TokenSet(access_token=body["access_token"],
                    refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                    expires_at=expires_at, scope=_scopes(body.get("scope")),
                    token_type=str(body.get("token_type") or "Bearer"))


def _scopes(value) -> tuple[str, ...]:
    # Most servers send a space-delimited string (RFC 6749 §3.3); Twitch sends a JSON array,
    # Facebook nothing at all.
    if isinstance(value, str):
        return tuple(part for part in re.split(r"[\s,]+", value) if part)
    if isinstance(value, list):
        return tuple(str(part) for part in value if part)
    return ()


_GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
_GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
# access_type=offline asks for a refresh token; prompt=consent makes Google issue one again on a
# reconnect (it only sends one at first consent otherwise).
_GOOGLE_OFFLINE = (("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true"))
_FACEBOOK_AUTHORIZE = "https://www.facebook.com/v21.0/dialog/oauth"
_FACEBOOK_TOKEN = "https://graph.facebook.com/v21.0/oauth/access_token"

OAUTH_PROVIDERS: dict[str, OAuthProvider] = {p.key: p for p in (
    OAuthProvider(
        key="google", display_name="Google", authorize_url=_GOOGLE_AUTHORIZE, token_url=_GOOGLE_TOKEN,
        default_scopes=("https://www.googleapis.com/auth/calendar",), client_auth="client_secret_post", pkce=True,
        extra_authorize_params=_GOOGLE_OFFLINE,
        docs=("https://developers.google.com/identity/protocols/oauth2/web-server",)),
    OAuthProvider(
        key="youtube", display_name="YouTube", authorize_url=_GOOGLE_AUTHORIZE, token_url=_GOOGLE_TOKEN,
        default_scopes=("https://www.googleapis.com/auth/youtube",), client_auth="client_secret_post", pkce=True,
        extra_authorize_params=_GOOGLE_OFFLINE, platform="google",
        docs=("https://developers.google.com/youtube/v3/guides/auth/server-side-web-apps",)),
    OAuthProvider(
        # {tenant} "common" accepts work and personal Microsoft accounts; a single-tenant app
        # registration sets PROVIDER_OUTLOOK_AUTHORIZE_URL/TOKEN_URL with its directory id.
        key="outlook", display_name="Microsoft",
        authorize_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",
        # offline_access is what makes the v2 endpoint return a refresh token.
        default_scopes=("offline_access", "https://graph.microsoft.com/Calendars.ReadWrite",
                        "https://graph.microsoft.com/User.Read"),
        client_auth="client_secret_post", pkce=True, extra_authorize_params=(("response_mode", "query"),),
        docs=("https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow",)),
    OAuthProvider(
        # Facebook issues no refresh token: the user token is long-lived (about 60 days) and a
        # reconnect renews it.
        key="facebook", display_name="Facebook", authorize_url=_FACEBOOK_AUTHORIZE, token_url=_FACEBOOK_TOKEN,
        default_scopes=("pages_show_list", "pages_read_engagement", "pages_manage_posts"),
        client_auth="client_secret_post", pkce=False,
        docs=("https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow",)),
    OAuthProvider(
        # Instagram business accounts are reached through Facebook Login and a linked Page.
        key="instagram", display_name="Instagram", authorize_url=_FACEBOOK_AUTHORIZE, token_url=_FACEBOOK_TOKEN,
        default_scopes=("instagram_basic", "instagram_content_publish", "pages_show_list",
                        "pages_read_engagement"),
        client_auth="client_secret_post", pkce=False, platform="facebook",
        docs=("https://developers.facebook.com/docs/instagram-platform/instagram-api-with-facebook-login",)),
    OAuthProvider(
        # Confidential clients authenticate with Basic; PKCE is mandatory; offline.access asks
        # for a refresh token.
        key="x", display_name="X", authorize_url="https://x.com/i/oauth2/authorize",
        token_url="https://api.x.com/2/oauth2/token",
        default_scopes=("tweet.read", "tweet.write", "users.read", "offline.access"),
        client_auth="client_secret_basic", pkce=True,
        docs=("https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token",
              "https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code")),
    OAuthProvider(
        key="twitch", display_name="Twitch", authorize_url="https://id.twitch.tv/oauth2/authorize",
        token_url="https://id.twitch.tv/oauth2/token",
        default_scopes=("channel:read:stream_key", "channel:manage:broadcast"),
        client_auth="client_secret_post", pkce=False,
        docs=("https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#authorization-code-grant-flow",)),
    OAuthProvider(
        # Rotating refresh tokens: every refresh returns a new one and voids the old one.
        key="fortnox", display_name="Fortnox", authorize_url="https://apps.fortnox.se/oauth-v1/auth",
        token_url="https://apps.fortnox.se/oauth-v1/token",
        default_scopes=("companyinformation", "bookkeeping", "invoice", "customer", "payment"),
        client_auth="client_secret_basic", pkce=False, extra_authorize_params=(("access_type", "offline"),),
        docs=("https://www.fortnox.se/developer/authorization/get-authorization-code",
              "https://www.fortnox.se/developer/authorization/get-access-token")),
    OAuthProvider(
        key="xero", display_name="Xero", authorize_url="https://login.xero.com/identity/connect/authorize",
        token_url="https://identity.xero.com/connect/token",
        default_scopes=("openid", "profile", "email", "accounting.transactions", "accounting.settings",
                        "offline_access"),
        client_auth="client_secret_basic", pkce=True,
        docs=("https://developer.xero.com/documentation/guides/oauth2/auth-flow",)),
    OAuthProvider(
        # The redirect back also carries realmId, the QuickBooks company the user picked.
        key="quickbooks", display_name="QuickBooks Online", authorize_url="https://appcenter.intuit.com/connect/oauth2",
        token_url="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        default_scopes=("com.intuit.quickbooks.accounting",), client_auth="client_secret_basic", pkce=False,
        docs=("https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/"
              "oauth-2.0",)),
    OAuthProvider(
        key="visma", display_name="Visma eAccounting",
        authorize_url="https://identity.vismaonline.com/connect/authorize",
        token_url="https://identity.vismaonline.com/connect/token",
        default_scopes=("ea:api", "offline_access", "ea:sales", "ea:accounting"),
        # prompt=login is part of Visma's documented authorize request: the user picks the company
        # at login. Refresh tokens are single-use; every refresh returns a new one.
        client_auth="client_secret_basic", pkce=False, extra_authorize_params=(("prompt", "login"),),
        docs=("https://developer.vismaonline.com/docs/authentication",
              "https://developer.vismaonline.com/docs/change-to-our-new-identity-server")),
    OAuthProvider(
        # Visma Connect, a multi-tenant identity provider: the user picks the company (tenant) at
        # login. Authorization code with PKCE for interactive users.
        key="visma_net", display_name="Visma Connect", authorize_url="https://connect.visma.com/connect/authorize",
        token_url="https://connect.visma.com/connect/token",
        default_scopes=("openid", "profile", "offline_access", "vismanet_erp_interactive_api:read",
                        "vismanet_erp_interactive_api:create", "vismanet_erp_interactive_api:update"),
        client_auth="client_secret_post", pkce=True,
        docs=("https://docs.vismasoftware.no/vismanetapi/setting-up-your-integration/authentication",)),
    OAuthProvider(
        # Unimicro's identity server: test companies log in at test-login.unimicro.no (set
        # PROVIDER_UNICONOMY_AUTHORIZE_URL/TOKEN_URL for them); client id and secret go in the form.
        key="uniconomy", display_name="Unimicro", authorize_url="https://login.unimicro.no/connect/authorize",
        token_url="https://login.unimicro.no/connect/token",
        default_scopes=("AppFramework", "profile", "openid", "offline_access"),
        client_auth="client_secret_post", pkce=True,
        docs=("https://developer.unimicro.no/guide/authentication/auth-code",)),
)}


def oauth_provider(key: str) -> OAuthProvider | None:
    """The provider's OAuth metadata, or None when it does not connect through OAuth."""
    return OAUTH_PROVIDERS.get(key)
