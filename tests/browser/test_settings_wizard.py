"""A finance officer sets up Fortnox in Settings → Integrations, in a real (headless) browser:
add, connect through OAuth at the Fortnox sandbox, validate against its API, activate."""
from __future__ import annotations

import os
import tempfile

import pytest
from playwright.sync_api import expect

from integrations.lifecycle import Status
from integrations.models import AccountingIntegration, Membership
from integrations.secrets.services import secret_resolve
from integrations.services.tenancy import tenant_create, tenant_user_create
from tests.sandboxes.fortnox import FortnoxSandbox

PASSWORD = "correct horse battery staple"
# Where the form and the final page are captured, for a person to look at after a run.
SCREENSHOTS = os.environ.get("HUB_WIZARD_SCREENSHOT_DIR", tempfile.gettempdir())


@pytest.fixture
def fortnox(sandbox_factory, monkeypatch) -> FortnoxSandbox:
    sandbox = sandbox_factory(FortnoxSandbox)
    monkeypatch.setenv("PROVIDER_FORTNOX_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROVIDER_FORTNOX_AUTHORIZE_URL", f"{sandbox.url}/oauth-v1/auth")
    monkeypatch.setenv("PROVIDER_FORTNOX_TOKEN_URL", f"{sandbox.url}/oauth-v1/token")
    return sandbox


@pytest.mark.browser
def test_finance_officer_adds_connects_validates_and_activates_fortnox(live_server, page, fortnox, settings):
    # given a tenant with a finance officer (tenant admin), and the hub's public URL being this server
    settings.PUBLIC_BASE_URL = live_server.url
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    tenant = tenant_create(slug="svff", name="Svenska Fäktförbundet")
    tenant_user_create(tenant=tenant, username="finance", password=PASSWORD, role=Membership.Role.ADMIN)

    # when they log in and go Settings → Integrations → Add → Accounting → Fortnox
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "finance")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.click("#settings-integrations")
    expect(page.locator("h1")).to_have_text("Integrations")
    page.click("#add-integration")
    page.click("a[data-family=accounting]")
    page.click("a[data-provider=fortnox]")

    # and fill in the form, pasting the client secret
    page.fill("#id_display_name", "Fortnox bokföring")
    page.fill("#id_oauth_client_id", fortnox.client_id)
    page.fill("#id_oauth_client_secret_ref__secret", fortnox.client_secret)
    page.fill("#id_company_id", "Sandbox Förbundet")
    page.fill("#id_chart_of_accounts_mapping__key_0", "license_fees")
    page.fill("#id_chart_of_accounts_mapping__value_0", "3010")
    page.fill("#id_chart_of_accounts_mapping__key_1", "tournament_fees")
    page.fill("#id_chart_of_accounts_mapping__value_1", "3020")
    page.fill("#id_fiscal_year", "2026")
    page.select_option("#id_sync_direction", "push")
    page.screenshot(path=os.path.join(SCREENSHOTS, "settings_wizard_fortnox_form.png"), full_page=True)
    page.click("#save")

    # then it is a draft
    expect(page.locator(".messagelist")).to_contain_text("as a draft")
    expect(page.locator("#integration-status")).to_have_text("draft")

    # when they connect: the browser goes to Fortnox's authorization page and comes back
    page.click("#connect")
    expect(page.locator(".messagelist")).to_contain_text("Connected Fortnox bokföring")
    expect(page.locator("#oauth-state")).to_contain_text("connected")

    # and validate: the real GET /3/companyinformation with the stored access token
    page.click("#validate")
    expect(page.locator(".messagelist")).to_contain_text("Validation passed")

    # and activate
    page.click("#action-activate")
    expect(page.locator(".messagelist")).to_contain_text("is activated")

    # then the integration is active and its usage panel shows the one validation call
    expect(page.locator("#integration-status")).to_have_text("active")
    expect(page.locator("#usage-requests")).to_have_text("1")
    expect(page.locator("#usage-errors")).to_have_text("0")
    button_ids = page.locator(".wizard-buttons button").evaluate_all("buttons => buttons.map(b => b.id)")
    assert [i for i in button_ids if i.startswith("action-")] == ["action-pause", "action-decommission"]
    page.screenshot(path=os.path.join(SCREENSHOTS, "settings_wizard_fortnox.png"), full_page=True)

    integration = AccountingIntegration.objects.get(tenant=tenant)
    assert integration.status == Status.ACTIVE
    assert integration.chart_of_accounts_mapping == {"license_fees": "3010", "tournament_fees": "3020"}
    assert (integration.fiscal_year, integration.sync_direction) == (2026, "push")
    assert secret_resolve(tenant=tenant, ref=integration.oauth_client_secret_ref) == fortnox.client_secret
    access_token = secret_resolve(tenant=tenant, ref=integration.oauth_access_token_ref)
    api_calls = [r for r in fortnox.requests if r.path.startswith("/3/")]
    assert [(r.path, r.headers["authorization"]) for r in api_calls] == [("/3/companyinformation",
                                                                          f"Bearer {access_token}")]
    assert [r.path for r in fortnox.requests if r.path.startswith("/oauth-v1/")] == ["/oauth-v1/auth",
                                                                                     "/oauth-v1/token"]
    assert fortnox.client_secret not in page.content() and access_token not in page.content()
