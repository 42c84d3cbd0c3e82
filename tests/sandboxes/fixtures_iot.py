"""Sandbox fixtures of court operations (loaded by `pytest_plugins` in tests/conftest.py)."""
from __future__ import annotations

import pytest

from tests.sandboxes.ziggy import ZiggySandbox


@pytest.fixture
def ziggy_sandbox(sandbox_factory, monkeypatch) -> ZiggySandbox:
    """A ZiggySandbox, with PROVIDER_ZIGGY_BASE_URL pointing the hub's Ziggy adapter at it.
    Its key is `ziggy_sandbox.api_key`, its client id `ziggy_sandbox.client_id`."""
    sandbox = sandbox_factory(ZiggySandbox)
    monkeypatch.setenv("PROVIDER_ZIGGY_BASE_URL", sandbox.url)
    return sandbox
