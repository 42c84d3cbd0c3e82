"""pytest fixtures for the accounting providers' sandboxes, loaded by `pytest_plugins` in tests/conftest.py.

Each fixture starts its sandbox for one test (through `sandbox_factory`, so a request that breaks
the provider's description fails the test) and points the hub's adapter at it with
PROVIDER_<NAME>_BASE_URL; the Fortnox one also sets the token and authorize URLs to its OAuth
server. `accounting_sandbox(provider)` starts the one for a provider key.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.sandboxes.base import SandboxServer
from tests.sandboxes.fortnox import FortnoxSandbox
from tests.sandboxes.quickbooks import QuickBooksSandbox
from tests.sandboxes.tripletex import TripletexSandbox
from tests.sandboxes.uniconomy import UniconomySandbox
from tests.sandboxes.visma import VismaSandbox
from tests.sandboxes.visma_net import VismaNetSandbox
from tests.sandboxes.xero import XeroSandbox
from tests.sandboxes.xledger import XledgerSandbox

ACCOUNTING_SANDBOXES: dict[str, type[SandboxServer]] = {
    "fortnox": FortnoxSandbox, "xero": XeroSandbox, "quickbooks": QuickBooksSandbox, "visma": VismaSandbox,
    "visma_net": VismaNetSandbox, "uniconomy": UniconomySandbox, "tripletex": TripletexSandbox,
    "xledger": XledgerSandbox,
}
# Tripletex's API lives under /v2 on its host, so the adapter's base URL carries it.
_BASE_PATHS = {"tripletex": "/v2"}


@pytest.fixture
def accounting_sandbox(sandbox_factory, monkeypatch) -> Callable[..., SandboxServer]:
    """`accounting_sandbox("xero", **options)`: that provider's sandbox, with the hub pointed at it."""

    def start(provider: str, **options) -> SandboxServer:
        sandbox = sandbox_factory(ACCOUNTING_SANDBOXES[provider], **options)
        name = provider.upper()
        monkeypatch.setenv(f"PROVIDER_{name}_BASE_URL", sandbox.url + _BASE_PATHS.get(provider, ""))
        if isinstance(sandbox, FortnoxSandbox):
            monkeypatch.setenv("PROVIDER_FORTNOX_TOKEN_URL", f"{sandbox.url}/oauth-v1/token")
            monkeypatch.setenv("PROVIDER_FORTNOX_AUTHORIZE_URL", f"{sandbox.url}/oauth-v1/auth")
        return sandbox

    return start


@pytest.fixture
def fortnox_sandbox(accounting_sandbox) -> FortnoxSandbox:
    """Fortnox's API and OAuth server; its client is `client_id`/`client_secret`, a ready token `access_token`."""
    return accounting_sandbox("fortnox")


@pytest.fixture
def xero_sandbox(accounting_sandbox) -> XeroSandbox:
    return accounting_sandbox("xero")


@pytest.fixture
def quickbooks_sandbox(accounting_sandbox) -> QuickBooksSandbox:
    return accounting_sandbox("quickbooks")


@pytest.fixture
def visma_sandbox(accounting_sandbox) -> VismaSandbox:
    return accounting_sandbox("visma")


@pytest.fixture
def visma_net_sandbox(accounting_sandbox) -> VismaNetSandbox:
    return accounting_sandbox("visma_net")


@pytest.fixture
def uniconomy_sandbox(accounting_sandbox) -> UniconomySandbox:
    return accounting_sandbox("uniconomy")


@pytest.fixture
def tripletex_sandbox(accounting_sandbox) -> TripletexSandbox:
    return accounting_sandbox("tripletex")


@pytest.fixture
def xledger_sandbox(accounting_sandbox) -> XledgerSandbox:
    return accounting_sandbox("xledger")
