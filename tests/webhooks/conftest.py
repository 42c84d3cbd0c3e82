from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_receivers():
    """Each test resolves configs from the database, not from a previous test's cache."""
    from webhooks.receivers import receiver_cache_clear

    receiver_cache_clear()
    yield
    receiver_cache_clear()
