"""Connecting an integration through its provider's OAuth 2.0 authorization-code flow.

`oauth_start` binds a fresh state to the tenant, integration, redirect_uri and PKCE verifier
and returns the provider's authorization URL; `oauth_complete` consumes that state, trades
the code for tokens, stores them in the tenant's secret store and keeps only refs on the row.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from adapters.errors import ProviderAuthFailed, ProviderError
from adapters.oauth import OAuthProvider, authorization_url, exchange_code, oauth_provider, pkce_pair
from integrations.errors import ApplicationError, Conflict, NotFound
from integrations.lifecycle import Status
from integrations.models import Integration
from integrations.oauth.state import OAuthState, state_create
from integrations.oauth.tokens import oauth_store_tokens
from integrations.secrets.services import secret_resolve

logger = logging.getLogger(__name__)
# RFC 6749 §4.1.2.1: error codes are printable ASCII without quotes or backslash; we keep a
# conservative subset and clip, since the text comes from whoever crafted the redirect.
_UNSAFE_ERROR_TEXT = re.compile(r"[^A-Za-z0-9 _.,:;()'/-]")


class OAuthNotSupported(ApplicationError):
    status = 400
    code = "oauth_not_supported"
    title = "OAuth not supported"


class OAuthAuthorizationDenied(ApplicationError):
    status = 400
    code = "oauth_authorization_denied"
    title = "Authorization not granted"


class OAuthExchangeFailed(ApplicationError):
    status = 502
    code = "oauth_exchange_failed"
    title = "Token exchange failed"


@dataclass(frozen=True)
class OAuthStart:
    authorization_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class OAuthCompletion:
    integration: Integration
    return_to: str


def oauth_provider_for(integration: Integration) -> OAuthProvider | None:
    """The OAuth metadata of the integration's provider when its family stores OAuth tokens."""
    if not hasattr(integration.specific(), "oauth_client_id"):
        return None
    return oauth_provider(integration.provider)


def oauth_default_redirect_uri() -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{reverse('oauth-callback')}"


def oauth_check_redirect_uri(redirect_uri: str) -> str:
    """`redirect_uri` when its origin is on settings.OAUTH_REDIRECT_ALLOWED_ORIGINS (default: PUBLIC_BASE_URL)."""
    allowed = {_origin(origin) for origin in (settings.OAUTH_REDIRECT_ALLOWED_ORIGINS or [settings.PUBLIC_BASE_URL])}
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
            or parts.fragment:
        raise ApplicationError("redirect_uri must be an absolute http(s) URL without credentials or fragment",
                               extra={"errors": {"redirect_uri": ["must be an absolute http(s) URL"]}})
    if _origin(redirect_uri) not in allowed:
        raise ApplicationError("redirect_uri is not on this deployment's allowlist "
                               "(OAUTH_REDIRECT_ALLOWED_ORIGINS)",
                               extra={"errors": {"redirect_uri": ["origin not allowed"]}})
    return redirect_uri


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def oauth_start(*, integration: Integration, redirect_uri: str | None, return_to: str, actor: str) -> OAuthStart:
    """A single-use state (10 minutes) and the URL that sends the user to the provider."""
    integration = integration.specific()
    provider = oauth_provider_for(integration)
    if provider is None:
        raise OAuthNotSupported(f"{integration.provider} integrations do not connect through OAuth")
    if integration.status == Status.DECOMMISSIONED:
        raise Conflict("a decommissioned integration cannot be connected")
    missing = [name for name in ("oauth_client_id", "oauth_client_secret_ref") if not getattr(integration, name)]
    if missing:
        raise ApplicationError(f"set {' and '.join(missing)} before connecting",
                               extra={"errors": {name: ["required to connect through OAuth"] for name in missing}})
    redirect_uri = oauth_check_redirect_uri(redirect_uri) if redirect_uri else oauth_default_redirect_uri()
    pkce = pkce_pair()
    state = state_create(tenant_id=integration.tenant_id, integration_id=integration.pk, redirect_uri=redirect_uri,
                         code_verifier=pkce.verifier, return_to=return_to, actor=actor)
    url = authorization_url(provider, client_id=integration.oauth_client_id, redirect_uri=redirect_uri,
                            state=state.state_id, code_challenge=pkce.challenge)
    logger.info("oauth connect started", extra={"integration_id": str(integration.pk),
                                                  "provider": integration.provider, "actor": actor})
    return OAuthStart(authorization_url=url, state=state.state_id, expires_at=state.expires_at)


def oauth_complete(*, state: OAuthState, code: str | None, error: str | None, error_description: str | None,
                   realm_id: str | None = None) -> OAuthCompletion:
    """Trade the provider's code for tokens and store them; nothing is stored on any failure."""
    integration = Integration.objects.filter(pk=state.integration_id, tenant_id=state.tenant_id).first()
    if integration is None:
        raise NotFound("the integration of this authorization no longer exists")
    integration = integration.specific()
    provider = oauth_provider_for(integration)
    if provider is None:
        raise OAuthNotSupported(f"{integration.provider} integrations do not connect through OAuth")
    if error:
        text = _UNSAFE_ERROR_TEXT.sub("", f"{error}: {error_description}" if error_description else error)[:200]
        raise OAuthAuthorizationDenied(f"{provider.display_name} did not grant access ({text}); nothing was stored")
    if not code or len(code) > 4096:
        raise ApplicationError("the provider's redirect carries no authorization code",
                               extra={"errors": {"code": ["required"]}})
    client_secret = secret_resolve(tenant=integration.tenant, ref=integration.oauth_client_secret_ref)
    try:
        tokens = exchange_code(provider, client_id=integration.oauth_client_id, client_secret=client_secret,
                               code=code, redirect_uri=state.redirect_uri, code_verifier=state.code_verifier)
    except ProviderAuthFailed as exc:
        logger.warning("oauth code exchange refused", extra={"integration_id": str(integration.pk),
                                                             "provider": integration.provider, "code": exc.code})
        raise OAuthExchangeFailed(f"{exc.message}; nothing was stored, start the connection again",
                                  code="oauth_code_rejected") from None
    except ProviderError as exc:
        logger.warning("oauth token endpoint unavailable", extra={"integration_id": str(integration.pk),
                                                                  "provider": integration.provider})
        raise OAuthExchangeFailed(f"{exc.message}; nothing was stored, start the connection again",
                                  code="oauth_provider_unavailable") from None
    model = type(integration)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=integration.pk)
        if locked.status == Status.DECOMMISSIONED:
            raise Conflict("the integration was decommissioned while it was being connected; nothing was stored")
        now = timezone.now()
        fields = oauth_store_tokens(integration=locked, tokens=tokens, connected=True)
        # New credentials make an earlier validation stale: the next activation validates again.
        fields |= {"oauth_connected_at": now, "config_changed_at": now}
        if realm_id and hasattr(locked, "company_id") and provider.key == "quickbooks" \
                and re.fullmatch(r"[0-9]{1,30}", realm_id):
            # QuickBooks names the company the user picked only in this redirect (realmId).
            fields["company_id"] = realm_id
        model.objects.filter(pk=locked.pk).update(**fields)
    logger.info("oauth connected", extra={"integration_id": str(integration.pk), "provider": integration.provider,
                                          "actor": state.actor, "scopes": " ".join(tokens.scope),
                                          "refresh_token_issued": tokens.refresh_token is not None})
    integration.refresh_from_db()
    return OAuthCompletion(integration=integration, return_to=state.return_to)
