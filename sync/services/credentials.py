"""refreshOAuthToken: a new access token now, for an integration whose provider issues them.

OAuth connections (the accounting providers) go through the token service, which refreshes
under a row lock, stores rotated refresh tokens and moves the integration to `error` when the
user must reconnect. Client-credential connections (Dynamics 365, Cornerstone) fetch a fresh
token for the process. Tokens are never returned, only when they expire.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from adapters.oauth import oauth_provider
from integrations.errors import ApplicationError
from integrations.models import Integration
from integrations.oauth.tokens import oauth_force_refresh
from sync.connectors import connector_for

logger = logging.getLogger(__name__)


def integration_token_refresh(*, integration: Integration, actor: str) -> dict:
    specific = integration.specific()
    if hasattr(specific, "oauth_refresh_token_ref") and oauth_provider(specific.provider) is not None:
        oauth_force_refresh(integration=specific)
        specific.refresh_from_db()
        logger.info("oauth token refreshed on request", extra={"integration_id": str(specific.pk), "actor": actor})
        return {"integration_id": specific.pk, "grant": "refresh_token", "expires_at": specific.oauth_token_expires_at}
    connector = connector_for(specific) if specific.family in ("crm", "lms") else None
    adapter = getattr(connector, "adapter", None) or _module_of(specific)
    if connector is None or adapter is None or not hasattr(adapter, "access_token"):
        raise ApplicationError(f"{specific.display_name} authenticates without a refreshable token",
                               code="not_refreshable")
    try:
        connector.config = connector.build_config(refresh=True)
        adapter.access_token(connector.config)
        expires = adapter.token_expires_at(connector.config)
    finally:
        connector.close()
    logger.info("client-credentials token fetched on request", extra={"integration_id": str(specific.pk),
                                                                       "actor": actor})
    return {"integration_id": specific.pk, "grant": "client_credentials",
            "expires_at": datetime.fromtimestamp(expires, timezone.utc) if expires else None}


def _module_of(integration):
    from adapters.providers import dynamics365

    return dynamics365 if integration.provider == dynamics365.key else None
