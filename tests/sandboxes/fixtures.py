"""pytest fixtures for sandbox servers, loaded by `pytest_plugins` in tests/conftest.py.

Each sandbox is started for one test and stopped after it. At teardown the test fails if any
sandbox recorded a spec violation (a request the real provider would have refused, a route the
sandbox does not play, or a sandbox crash), so a test cannot pass on a malformed request just
because the code under test shrugged off the 400. A test that sends bad requests on purpose
acknowledges them with `sandbox.take_violations()`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.sandboxes.base import SandboxServer
from tests.sandboxes.stripe import StripeSandbox


def _fail_on_violations(sandboxes: list[SandboxServer]) -> None:
    lines = [
        f"{type(sandbox).__name__} at {sandbox.url}: {violation}"
        for sandbox in sandboxes
        for violation in sandbox.violations
    ]
    if lines:
        summary = "requests broke the provider's published description:\n  " + "\n  ".join(lines)
        pytest.fail(summary, pytrace=False)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    """`sandbox_factory(SandboxClass, **options)` starts a sandbox for this test.

    For a provider without a subclass yet: `sandbox = sandbox_factory(SandboxServer,
    validator=spec_validator("twilio-messaging.json"))`, then `sandbox.add_route(...)`.
    """
    started: list[SandboxServer] = []

    def start(sandbox_class: type[SandboxServer] = SandboxServer, /, **options) -> SandboxServer:
        sandbox = sandbox_class(**options)
        started.append(sandbox)
        return sandbox.start()

    yield start
    for sandbox in started:
        sandbox.stop()
    _fail_on_violations(started)


@pytest.fixture
def stripe_sandbox(sandbox_factory, monkeypatch) -> StripeSandbox:
    """A StripeSandbox, with PROVIDER_STRIPE_BASE_URL pointing the hub's Stripe adapter at it.

    Its key is `stripe_sandbox.api_key`, its webhook signing secret `stripe_sandbox.webhook_secret`.
    """
    sandbox = sandbox_factory(StripeSandbox)
    monkeypatch.setenv("PROVIDER_STRIPE_BASE_URL", sandbox.url)
    return sandbox
