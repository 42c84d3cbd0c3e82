from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_receivers():
    """Each test resolves configs from the database, not from a previous test's cache."""
    from webhooks.receivers import receiver_cache_clear

    receiver_cache_clear()
    yield
    receiver_cache_clear()


@pytest.fixture
def receiver():
    from tests.webhooks.receiver import start_receiver

    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_targets(settings):
    """Outbound tests deliver to 127.0.0.1, which only this setting permits."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
