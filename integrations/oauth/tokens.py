"""Access tokens for OAuth integrations: the stored one while it is valid, else a refresh.

Tokens live in the tenant's secret store; the integration row holds versioned refs only
(`local://oauth-<id>-access/<n>`). Versioned, because resolved secrets are cached per process:
a versionless ref could serve a worker the refresh token that a rotation already voided.

Refreshes run on the locked integration row, so two workers never spend the same refresh
token (with rotating providers the second would get invalid_grant and break the connection).
Token endpoint calls are not counted as usage: they go to the provider's identity platform,
not against the API quota the usage panel shows.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from adapters.errors import ProviderAuthFailed
from adapters.oauth import TokenSet, oauth_provider, refresh_tokens
from integrations.errors import InvalidTransition
from integrations.lifecycle import Action, Status
from integrations.models import Integration, Tenant
from integrations.secrets.services import local_secret_write, secret_resolve

logger = logging.getLogger(__name__)
# An access token this close to expiry is refreshed first, so it cannot expire in flight.
EXPIRY_MARGIN = timedelta(seconds=60)
SYSTEM_ACTOR = "system"


def oauth_access_token(*, integration: Integration) -> str:
    """A valid access token for the integration, refreshing it when it is (nearly) expired.

    Raises ProviderAuthFailed when the user must reconnect (the integration, if active, moves
    to `error`), ProviderUnavailable when the token endpoint fails transiently.
    """
    integration = integration.specific()
    if _access_token_is_valid(integration):
        return secret_resolve(tenant=integration.tenant, ref=integration.oauth_access_token_ref)
    return _refresh(integration, seen_access_ref=None)


def oauth_force_refresh(*, integration: Integration) -> str:
    """A new access token even though the stored one looks valid: for a provider's 401, once.

    When another worker already refreshed since the caller read the row, its token is returned
    instead of spending the refresh token again.
    """
    integration = integration.specific()
    return _refresh(integration, seen_access_ref=integration.oauth_access_token_ref)


def oauth_store_tokens(*, integration: Integration, tokens: TokenSet, connected: bool) -> dict:
    """Write the tokens to the tenant's store and return the field values that point at them.

    The caller saves the returned fields on the (locked) row. A TokenSet without a refresh
    token keeps the stored one: most providers only rotate sometimes.
    """
    fields: dict = {
        "oauth_access_token_ref": _store(integration.tenant, f"oauth-{integration.pk}-access", tokens.access_token),
        "oauth_token_expires_at": tokens.expires_at,
    }
    if tokens.refresh_token:
        fields["oauth_refresh_token_ref"] = _store(integration.tenant, f"oauth-{integration.pk}-refresh",
                                                   tokens.refresh_token)
    elif connected:
        fields["oauth_refresh_token_ref"] = ""  # a fresh connection without one must not keep an old grant
    if tokens.scope or connected:
        fields["oauth_scopes"] = list(tokens.scope)
    return fields


def _store(tenant: Tenant, name: str, value: str) -> str:
    row = local_secret_write(tenant=tenant, name=name, value=value)
    return f"local://{row.name}/{row.version}"


def _access_token_is_valid(integration: Integration) -> bool:
    if not integration.oauth_access_token_ref:
        return False
    expires_at = integration.oauth_token_expires_at
    # No expiry means the provider did not state one; a 401 then goes through oauth_force_refresh.
    return expires_at is None or expires_at - EXPIRY_MARGIN > timezone.now()


def _refresh(integration: Integration, *, seen_access_ref: str | None) -> str:
    model = type(integration)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=integration.pk)
        # Another worker may have refreshed while this one waited for the lock.
        if seen_access_ref is None and _access_token_is_valid(locked):
            return secret_resolve(tenant=locked.tenant, ref=locked.oauth_access_token_ref)
        if seen_access_ref is not None and locked.oauth_access_token_ref != seen_access_ref \
                and _access_token_is_valid(locked):
            return secret_resolve(tenant=locked.tenant, ref=locked.oauth_access_token_ref)
        provider = oauth_provider(locked.provider)
        if provider is None:
            raise ProviderAuthFailed(f"{locked.provider} does not use OAuth; there is no token to refresh",
                                     provider=locked.provider, code="not_oauth")
        problem = _reconnect_reason(locked)
        if problem is None:
            try:
                tokens = refresh_tokens(
                    provider, client_id=locked.oauth_client_id,
                    client_secret=secret_resolve(tenant=locked.tenant, ref=locked.oauth_client_secret_ref),
                    refresh_token=secret_resolve(tenant=locked.tenant, ref=locked.oauth_refresh_token_ref))
            except ProviderAuthFailed as exc:
                problem = exc.message
            else:
                fields = oauth_store_tokens(integration=locked, tokens=tokens, connected=False)
                model.objects.filter(pk=locked.pk).update(**fields)
                logger.info("oauth access token refreshed",
                            extra={"integration_id": str(locked.pk), "provider": locked.provider,
                                   "refresh_token_rotated": bool(tokens.refresh_token)})
                integration.refresh_from_db()
                return tokens.access_token
    # Outside the transaction above, so the move to `error` commits although we raise.
    _needs_reconnect(integration, problem)
    raise ProviderAuthFailed(f"OAuth refresh failed: {problem}; reconnect required", provider=integration.provider,
                             code="reconnect_required")


def _reconnect_reason(integration: Integration) -> str | None:
    if not integration.oauth_refresh_token_ref:
        if not integration.oauth_access_token_ref:
            return "the integration is not connected"
        return "the access token expired and the provider issued no refresh token"
    if not integration.oauth_client_id or not integration.oauth_client_secret_ref:
        return "oauth_client_id and oauth_client_secret_ref are required to refresh"
    return None


def _needs_reconnect(integration: Integration, problem: str) -> None:
    from integrations.services.lifecycle import integration_transition

    logger.warning("oauth refresh needs the user", extra={"integration_id": str(integration.pk),
                                                           "provider": integration.provider})
    integration.refresh_from_db()
    if integration.status != Status.ACTIVE:
        return
    try:
        integration_transition(integration=integration, action=Action.FAIL, actor=SYSTEM_ACTOR,
                               reason=f"OAuth refresh failed: {problem}; reconnect required")
    except InvalidTransition:
        pass  # another worker moved it first
