"""pytest fixtures for the push and WhatsApp sandboxes, and helpers that set up a tenant's FCM or
WhatsApp config through the API (secret stored, validated against the sandbox, activated).

Loaded by `pytest_plugins` in tests/conftest.py; violations fail the test like every sandbox's.
"""
from __future__ import annotations

import pytest

from tests.sandboxes.fcm import FcmSandbox
from tests.sandboxes.whatsapp import DEFAULT_PHONE_NUMBER_ID, DEFAULT_TOKEN, DEFAULT_WABA_ID, WhatsAppSandbox

FCM_PROJECT = "hub-test-project"
WHATSAPP_APP_SECRET = "meta-app-secret-sandbox"
WHATSAPP_VERIFY_TOKEN = "verify-token-sandbox"


@pytest.fixture
def fcm_sandbox(sandbox_factory, monkeypatch) -> FcmSandbox:
    """An FcmSandbox; PROVIDER_FCM_BASE_URL points firebase-admin's send URL at it. Its service
    accounts name its own token endpoint as `token_uri`."""
    from adapters.providers import fcm

    sandbox = sandbox_factory(FcmSandbox)
    monkeypatch.setenv("PROVIDER_FCM_BASE_URL", sandbox.url)
    monkeypatch.delenv("PROVIDER_FCM_TOKEN_URL", raising=False)
    yield sandbox
    fcm.apps_clear()


@pytest.fixture
def whatsapp_sandbox(sandbox_factory, monkeypatch) -> WhatsAppSandbox:
    sandbox = sandbox_factory(WhatsAppSandbox, app_secret=WHATSAPP_APP_SECRET)
    monkeypatch.setenv("PROVIDER_WHATSAPP_BASE_URL", sandbox.url)
    monkeypatch.delenv("PROVIDER_WHATSAPP_API_VERSION", raising=False)
    return sandbox


def store_secret(api, name: str, value: str) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def activate(api, base: str, config: dict) -> dict:
    run = api.post(f"{base}/{config['id']}/validate/").json()
    assert run["passed"] is True, run
    activated = api.post(f"{base}/{config['id']}/activate/")
    assert activated.status_code == 200, activated.json()
    return activated.json()


FCM_BASE = "/api/v1/communication/fcm/configs"
WHATSAPP_BASE = "/api/v1/communication/whatsapp/configs"


def fcm_config(api, sandbox: FcmSandbox, *, active: bool = True, **overrides) -> dict:
    ref = store_secret(api, "fcm-service-account", sandbox.service_account(project_id=FCM_PROJECT))
    body = {"display_name": "Club app", "project_id": FCM_PROJECT, "service_account_json_ref": ref} | overrides
    created = api.post(f"{FCM_BASE}/", body, format="json")
    assert created.status_code == 201, created.json()
    return activate(api, FCM_BASE, created.json()) if active else created.json()


def whatsapp_config(api, sandbox: WhatsAppSandbox, *, active: bool = True, **overrides) -> dict:
    body = {"display_name": "Federation WhatsApp", "phone_number_id": DEFAULT_PHONE_NUMBER_ID,
            "business_account_id": DEFAULT_WABA_ID, "display_phone_number": "+46701740605",
            "default_language_code": "sv",
            "access_token_ref": store_secret(api, "whatsapp-token", DEFAULT_TOKEN),
            "app_secret_ref": store_secret(api, "whatsapp-app-secret", WHATSAPP_APP_SECRET),
            "webhook_verify_token_ref": store_secret(api, "whatsapp-verify", WHATSAPP_VERIFY_TOKEN)} | overrides
    created = api.post(f"{WHATSAPP_BASE}/", body, format="json")
    assert created.status_code == 201, created.json()
    return activate(api, WHATSAPP_BASE, created.json()) if active else created.json()
