"""pytest fixtures for the email and SMS sandboxes, loaded by `pytest_plugins` in tests/conftest.py.

Each starts through `sandbox_factory` (so a spec violation fails the test at teardown) and
points the hub's adapter at it with PROVIDER_<NAME>_BASE_URL.
"""

from __future__ import annotations

import pytest

from tests.sandboxes.elks46 import ElksSandbox
from tests.sandboxes.mailgun import MailgunSandbox
from tests.sandboxes.sendgrid import SendGridSandbox
from tests.sandboxes.twilio import TwilioSandbox


@pytest.fixture
def sendgrid_sandbox(sandbox_factory, monkeypatch) -> SendGridSandbox:
    sandbox = sandbox_factory(SendGridSandbox)
    monkeypatch.setenv("PROVIDER_SENDGRID_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def mailgun_sandbox(sandbox_factory, monkeypatch) -> MailgunSandbox:
    sandbox = sandbox_factory(MailgunSandbox)
    monkeypatch.setenv("PROVIDER_MAILGUN_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def elks_sandbox(sandbox_factory, monkeypatch) -> ElksSandbox:
    sandbox = sandbox_factory(ElksSandbox)
    monkeypatch.setenv("PROVIDER_ELKS_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def twilio_sandbox(sandbox_factory, monkeypatch) -> TwilioSandbox:
    sandbox = sandbox_factory(TwilioSandbox)
    monkeypatch.setenv("PROVIDER_TWILIO_BASE_URL", sandbox.url)
    return sandbox
