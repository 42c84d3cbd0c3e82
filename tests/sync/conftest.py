from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_provider_tokens():
    """Client-credential tokens are cached per process; each test starts without any."""
    from adapters import client_credentials

    client_credentials.clear()
    yield
    client_credentials.clear()


@pytest.fixture(autouse=True)
def _fresh_receivers():
    from webhooks.receivers import receiver_cache_clear

    receiver_cache_clear()
    yield
    receiver_cache_clear()
