from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_provider_tokens():
    """Client-credential tokens are cached per process; each test starts without any."""
    from adapters import client_credentials, http_pool

    client_credentials.clear()
    yield
    client_credentials.clear()
    http_pool.close_all()  # keep-alive connections to this test's sandboxes end with it


@pytest.fixture(autouse=True)
def _fresh_receivers():
    from webhooks.receivers import receiver_cache_clear

    receiver_cache_clear()
    yield
    receiver_cache_clear()
