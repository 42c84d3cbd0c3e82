"""Builders for the email and SMS tests: configs made through the API, with refs to secrets
stored through the API, validated against the sandboxes and activated."""

from __future__ import annotations

BASE = "/api/v1/communication"


def secret(api, name: str, value: str) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def create_config(api, slug: str, body: dict) -> dict:
    response = api.post(f"{BASE}/{slug}/configs/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def activate(api, slug: str, config: dict) -> dict:
    run = api.post(f"{BASE}/{slug}/configs/{config['id']}/validate/").json()
    assert run["passed"] is True, run
    response = api.post(f"{BASE}/{slug}/configs/{config['id']}/activate/")
    assert response.status_code == 200, response.json()
    return response.json()


def sendgrid_body(api, sandbox, **overrides) -> dict:
    return {
        "display_name": "SendGrid",
        "api_key_ref": secret(api, "sendgrid-key", sandbox.api_key),
        "from_email": "noreply@federation.example",
        "from_name": "The Federation",
        "sandbox_mode": False,
    } | overrides


def mailgun_body(api, sandbox, **overrides) -> dict:
    return {
        "display_name": "Mailgun",
        "api_key_ref": secret(api, "mailgun-key", sandbox.api_key),
        "domain": "mg.example.org",
        "region": "eu",
        "from_email": "noreply@mg.example.org",
        "sandbox_mode": False,
    } | overrides


def elks_body(api, sandbox, **overrides) -> dict:
    return {
        "display_name": "46elks",
        "api_username_ref": secret(api, "elks-user", sandbox.username),
        "api_password_ref": secret(api, "elks-password", sandbox.password),
        "sender_id": "Federation",
        "sandbox_mode": False,
    } | overrides


def twilio_body(api, sandbox, **overrides) -> dict:
    return {
        "display_name": "Twilio",
        "account_sid_ref": secret(api, "twilio-sid", sandbox.account_sid),
        "auth_token_ref": secret(api, "twilio-token", sandbox.auth_token),
        "from_number": "+12015550123",
        "supported_countries": ["SE", "NO", "US"],
        "sandbox_mode": False,
    } | overrides


def active_config(api, slug: str, body: dict) -> dict:
    return activate(api, slug, create_config(api, slug, body))
