"""Fixtures for OAuth connect tests, loaded through `pytest_plugins` in tests/conftest.py."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from adapters.oauth import oauth_provider
from tests.sandboxes.oauth_server import OAuthServer


@pytest.fixture
def oauth_server_for(sandbox_factory, monkeypatch) -> Callable[..., OAuthServer]:
    """`oauth_server_for("google", **options)`: an OAuthServer authenticating clients and checking
    PKCE the way that provider does, with PROVIDER_<KEY>_AUTHORIZE_URL/TOKEN_URL pointing at it."""

    def start(provider_key: str, **options) -> OAuthServer:
        provider = oauth_provider(provider_key)
        if provider is None:
            raise LookupError(f"{provider_key} has no OAuth metadata in adapters/oauth.py")
        options = {"client_auth": provider.client_auth, "pkce_required": provider.pkce, **options}
        server = sandbox_factory(OAuthServer, **options)
        name = re.sub(r"[^A-Z0-9]", "_", provider_key.upper())
        monkeypatch.setenv(f"PROVIDER_{name}_AUTHORIZE_URL", server.authorize_url)
        monkeypatch.setenv(f"PROVIDER_{name}_TOKEN_URL", server.token_url)
        return server

    return start
