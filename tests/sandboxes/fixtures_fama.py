"""pytest fixtures for the calendar, social media and streaming provider sandboxes.

Loaded for every test by `pytest_plugins` in tests/conftest.py. Each fixture starts its sandbox
through `sandbox_factory` (so a spec violation fails the test at teardown) and points the hub's
adapter at it with PROVIDER_<NAME>_BASE_URL.
"""

from __future__ import annotations

import pytest

from tests.sandboxes.google_calendar import GoogleCalendarSandbox
from tests.sandboxes.ical import ICalSandbox
from tests.sandboxes.meta_graph import MetaGraphSandbox
from tests.sandboxes.msgraph import GraphSandbox
from tests.sandboxes.mux import MuxSandbox
from tests.sandboxes.twitch import TwitchSandbox
from tests.sandboxes.x import XSandbox
from tests.sandboxes.youtube import YouTubeSandbox


@pytest.fixture
def google_calendar_sandbox(sandbox_factory, monkeypatch) -> GoogleCalendarSandbox:
    sandbox = sandbox_factory(GoogleCalendarSandbox)
    monkeypatch.setenv("PROVIDER_GOOGLE_CALENDAR_BASE_URL", sandbox.api_base_url)
    return sandbox


@pytest.fixture
def msgraph_sandbox(sandbox_factory, monkeypatch) -> GraphSandbox:
    sandbox = sandbox_factory(GraphSandbox)
    monkeypatch.setenv("PROVIDER_OUTLOOK_BASE_URL", sandbox.api_base_url)
    return sandbox


@pytest.fixture
def ical_sandbox(sandbox_factory, monkeypatch) -> ICalSandbox:
    """Feeds on 127.0.0.1, so the hub's public-address guard is relaxed for the test."""
    sandbox = sandbox_factory(ICalSandbox)
    monkeypatch.setenv("PROVIDER_ICAL_ALLOW_PRIVATE_HOSTS", "1")
    return sandbox


@pytest.fixture
def meta_graph_sandbox(sandbox_factory, monkeypatch) -> MetaGraphSandbox:
    """One Graph API for both Meta providers, as graph.facebook.com is."""
    sandbox = sandbox_factory(MetaGraphSandbox)
    monkeypatch.setenv("PROVIDER_FACEBOOK_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROVIDER_INSTAGRAM_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def x_sandbox(sandbox_factory, monkeypatch) -> XSandbox:
    sandbox = sandbox_factory(XSandbox)
    monkeypatch.setenv("PROVIDER_X_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def youtube_sandbox(sandbox_factory, monkeypatch) -> YouTubeSandbox:
    sandbox = sandbox_factory(YouTubeSandbox)
    monkeypatch.setenv("PROVIDER_YOUTUBE_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def twitch_sandbox(sandbox_factory, monkeypatch) -> TwitchSandbox:
    sandbox = sandbox_factory(TwitchSandbox)
    monkeypatch.setenv("PROVIDER_TWITCH_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def mux_sandbox(sandbox_factory, monkeypatch) -> MuxSandbox:
    sandbox = sandbox_factory(MuxSandbox)
    monkeypatch.setenv("PROVIDER_MUX_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def store_secret(tenant):
    """`store_secret(name, value)` keeps a secret in the tenant's local store and returns its ref."""
    from integrations.secrets.services import secret_store

    def store(name: str, value: str) -> str:
        return secret_store(tenant=tenant, name=name, value=value)

    return store


@pytest.fixture
def oauth_connect():
    """`oauth_connect(integration_id, access_token)` leaves the integration as the OAuth connect
    flow does: the token in the tenant's store behind a versioned ref, valid for an hour."""
    from datetime import timedelta

    from django.utils import timezone

    from adapters.oauth import TokenSet
    from integrations.models import Integration
    from integrations.oauth.tokens import oauth_store_tokens

    def connect(integration_id, access_token: str) -> None:
        integration = Integration.objects.get(pk=integration_id).specific()
        tokens = TokenSet(
            access_token=access_token,
            refresh_token=None,
            expires_at=timezone.now() + timedelta(hours=1),
            scope=(),
        )
        fields = oauth_store_tokens(integration=integration, tokens=tokens, connected=True)
        type(integration).objects.filter(pk=integration.pk).update(
            oauth_connected_at=timezone.now(), **fields
        )

    return connect
