"""Server-side OAuth state: what a `state` id stands for between start and callback.

Only the random id travels through the browser and the provider; the tenant, integration,
redirect_uri and PKCE verifier stay in the Django cache (Redis in production, shared by every
web process) for OAUTH_STATE_TTL_SECONDS. A state is consumed once: `cache.add` of a
"used" marker is atomic (SET NX on Redis), so of two racing callbacks only one proceeds.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from integrations.errors import ApplicationError

_KEY = "oauth-state:{}"
_USED_KEY = "oauth-state-used:{}"
# What a state id looks like (token_urlsafe(32)); anything else is refused before a cache lookup.
_STATE_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
STATE_LENGTH = 43


class OAuthStateInvalid(ApplicationError):
    status = 400
    code = "oauth_state_invalid"
    title = "OAuth state invalid"


@dataclass(frozen=True)
class OAuthState:
    state_id: str
    tenant_id: str
    integration_id: str
    redirect_uri: str
    code_verifier: str
    return_to: str  # an admin page to send the browser back to, or "" for API-started flows
    actor: str
    expires_at: datetime


def state_create(*, tenant_id, integration_id, redirect_uri: str, code_verifier: str, return_to: str,
                 actor: str) -> OAuthState:
    ttl = settings.OAUTH_STATE_TTL_SECONDS
    state = OAuthState(state_id=secrets.token_urlsafe(32), tenant_id=str(tenant_id),
                       integration_id=str(integration_id), redirect_uri=redirect_uri, code_verifier=code_verifier,
                       return_to=return_to, actor=actor, expires_at=timezone.now() + timedelta(seconds=ttl))
    payload = asdict(state) | {"expires_at": state.expires_at.isoformat()}
    cache.set(_KEY.format(state.state_id), payload, timeout=ttl)
    return state


def state_consume(state_id: str) -> OAuthState:
    """The state behind `state_id`, usable exactly once. Raises OAuthStateInvalid."""
    if not isinstance(state_id, str) or len(state_id) != STATE_LENGTH or not set(state_id) <= _STATE_ALPHABET:
        raise OAuthStateInvalid("the state parameter is missing or malformed; start the connection again")
    payload = cache.get(_KEY.format(state_id))
    if payload is None:
        if cache.get(_USED_KEY.format(state_id)) is not None:
            raise OAuthStateInvalid("this authorization was already completed (the state has been used); "
                                    "start the connection again", code="oauth_state_reused")
        raise OAuthStateInvalid("the state is unknown or has expired (it is valid for "
                                f"{settings.OAUTH_STATE_TTL_SECONDS // 60} minutes); start the connection again",
                                code="oauth_state_unknown")
    if not cache.add(_USED_KEY.format(state_id), 1, timeout=settings.OAUTH_STATE_TTL_SECONDS):
        raise OAuthStateInvalid("this authorization was already completed (the state has been used); "
                                "start the connection again", code="oauth_state_reused")
    cache.delete(_KEY.format(state_id))
    expires_at = datetime.fromisoformat(payload["expires_at"])
    if expires_at <= timezone.now():  # a cache that kept the key past its timeout
        raise OAuthStateInvalid("the state has expired; start the connection again", code="oauth_state_unknown")
    return OAuthState(**(payload | {"expires_at": expires_at}))
