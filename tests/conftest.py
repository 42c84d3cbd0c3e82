"""Shared fixtures. Tests marked `postgres`, `redis` or `mqtt` use the real services; without
them they are skipped, unless HUB_REQUIRE_SERVICES=1 (set by .ci/run), where they run and fail."""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

pytest_plugins = ["tests.sandboxes.fixtures", "tests.sandboxes.fixtures_oauth", "tests.sandboxes.fixtures_fama",
                  "tests.sandboxes.fixtures_famb", "tests.sandboxes.fixtures_famc",
                  "tests.sandboxes.fixtures_mail", "tests.sandboxes.fixtures_push", "tests.sandboxes.fixtures_sync",
                  "tests.sandboxes.fixtures_iot"]

REQUIRE_SERVICES = os.environ.get("HUB_REQUIRE_SERVICES") == "1"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config, items):
    if REQUIRE_SERVICES:
        return
    missing = {}
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing["postgres"] = "DATABASE_URL does not point at PostgreSQL"
    if not os.environ.get("REDIS_URL") or not _reachable(os.environ["REDIS_URL"], 6379):
        missing["redis"] = "REDIS_URL is not set or not reachable"
    if not os.environ.get("MQTT_BROKER_URL") or not _reachable(os.environ["MQTT_BROKER_URL"], 1883):
        missing["mqtt"] = "MQTT_BROKER_URL is not set or not reachable"
    if not os.access(os.environ.get("HUB_CHROMIUM_PATH") or "/usr/bin/chromium", os.X_OK):
        missing["browser"] = "no Chromium at /usr/bin/chromium (or HUB_CHROMIUM_PATH)"
    for item in items:
        for marker, reason in missing.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=f"{reason} (run .ci/run for the full suite)"))


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run in-process unless a test starts real workers itself."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    yield


@pytest.fixture(autouse=True)
def _fresh_resilience(settings):
    """Each test starts with closed, in-process breakers and retries that wait milliseconds."""
    from adapters import resilience

    settings.RESILIENCE_RETRY_INITIAL_WAIT_SECONDS = 0.001
    settings.RESILIENCE_RETRY_MAX_WAIT_SECONDS = 0.01
    resilience.configure(redis_url=None, fail_max=settings.RESILIENCE_BREAKER_FAIL_MAX,
                         reset_timeout=settings.RESILIENCE_BREAKER_RESET_SECONDS,
                         retry_policy=resilience.RetryPolicy(attempts=settings.RESILIENCE_RETRY_ATTEMPTS,
                                                             initial_wait=0.001, max_wait=0.01))
    yield
    resilience.reset_breakers()


@pytest.fixture(autouse=True)
def _clear_caches():
    from django.core.cache import cache

    from config.oidc import jwks_cache

    from integrations.secrets.services import secret_cache_clear

    cache.clear()
    jwks_cache.clear()
    secret_cache_clear()
    yield


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("REDIS_URL is required for this test")
    return url


@pytest.fixture
def tenant(db):
    from integrations.services.tenancy import tenant_create

    return tenant_create(slug="alpha", name="Alpha Federation")


@pytest.fixture
def other_tenant(db):
    from integrations.services.tenancy import tenant_create

    return tenant_create(slug="beta", name="Beta Club")


def _client_for(tenant, scopes=("*",)):
    from rest_framework.test import APIClient

    from integrations.services.tenancy import api_key_create

    _, plaintext = api_key_create(tenant=tenant, name="test", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    client.raw_key = plaintext
    return client


@pytest.fixture
def api(tenant):
    return _client_for(tenant)


@pytest.fixture
def other_api(other_tenant):
    return _client_for(other_tenant)


@pytest.fixture
def api_for():
    return _client_for
