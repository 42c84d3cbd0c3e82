"""Browser tests: Playwright's Python API driving Debian's Chromium (never a downloaded one)
against pytest-django's live server. Tests here carry @pytest.mark.browser; without a
Chromium they are skipped unless HUB_REQUIRE_SERVICES=1 (tests/conftest.py)."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def chromium_path() -> str | None:
    """Debian's chromium, or HUB_CHROMIUM_PATH when a machine keeps it elsewhere."""
    configured = os.environ.get("HUB_CHROMIUM_PATH", "")
    for candidate in (configured, "/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    """Module-scoped: Playwright's loop must be gone before any later test calls asyncio.run()
    (firebase-admin and httpx do), which a session-wide browser would break."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.fail("no Chromium found at /usr/bin/chromium (apt-get install chromium, or set HUB_CHROMIUM_PATH)")
    # Playwright's sync API keeps an event loop on this thread, which Django's ORM mistakes for
    # async code; the test's own ORM calls are ordinary synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()
    playwright.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()
