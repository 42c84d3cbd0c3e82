"""Settings → Integrations in the admin, through Django's test client: tenancy, the form built
from the family serializer, pasted secrets, lifecycle buttons and the usage panel."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.lifecycle import Status
from integrations.models import AccountingIntegration, LocalSecret, Membership, UsageDaily
from integrations.secrets.services import secret_resolve, secret_store
from integrations.services.tenancy import tenant_user_create

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
PASTED = "client-secret-pasted-0123456789"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _login(client, tenant, username, role):
    client.force_login(tenant_user_create(tenant=tenant, username=username, password=PASSWORD, role=role))
    return client


@pytest.fixture
def finance_officer(client, tenant):
    return _login(client, tenant, "finance", Membership.Role.ADMIN)


@pytest.fixture
def member(client, tenant):
    return _login(client, tenant, "reader", Membership.Role.MEMBER)


def _fortnox(tenant, **fields):
    defaults = {"display_name": "Fortnox (bokföring)", "provider": "fortnox", "family": "accounting",
                "oauth_client_id": "client-1", "company_id": "Sandbox"}
    return AccountingIntegration.objects.create(tenant=tenant, **(defaults | fields))


FORM = {"display_name": "Fortnox (bokföring)", "sandbox_mode": "on", "oauth_client_id": "fortnox-client",
        "oauth_client_secret_ref__secret": PASTED, "company_id": "Sandbox Förbundet", "fiscal_year": "2026",
        "sync_direction": "push", "quota_period": "month",
        "chart_of_accounts_mapping__key": ["license_fees", "tournament_fees", ""],
        "chart_of_accounts_mapping__value": ["3010", "3020", ""]}


def test_the_admin_home_links_to_settings_integrations(finance_officer):
    response = finance_officer.get(reverse("admin:index"))

    assert response.status_code == 200
    assert reverse("integrations_wizard:list") in response.content.decode()


def test_the_list_shows_only_the_admins_tenant(finance_officer, tenant, other_tenant):
    _fortnox(tenant, display_name="Ours")
    _fortnox(other_tenant, display_name="Theirs")

    page = finance_officer.get(reverse("integrations_wizard:list")).content.decode()

    assert "Ours" in page and "Theirs" not in page
    assert 'id="add-integration"' in page


def test_adding_saves_a_draft_with_the_pasted_secret_stored_as_a_ref(finance_officer, tenant):
    # when the finance officer posts the Fortnox form with the client secret pasted
    response = finance_officer.post(reverse("integrations_wizard:create", args=["accounting", "fortnox"]), FORM)

    # then a draft exists whose ref resolves to the pasted value, which no page shows again
    integration = AccountingIntegration.objects.get(tenant=tenant)
    assert response.status_code == 302 and response["Location"] == reverse("integrations_wizard:detail",
                                                                              args=[integration.pk])
    assert integration.status == Status.DRAFT
    assert integration.chart_of_accounts_mapping == {"license_fees": "3010", "tournament_fees": "3020"}
    assert (integration.fiscal_year, integration.sync_direction, integration.company_id) == (2026, "push",
                                                                                             "Sandbox Förbundet")
    assert re.fullmatch(r"local://fortnox-oauth-client-secret-[0-9a-f]{8}", integration.oauth_client_secret_ref)
    assert secret_resolve(tenant=tenant, ref=integration.oauth_client_secret_ref) == PASTED
    for url in (response["Location"], reverse("integrations_wizard:edit", args=[integration.pk])):
        page = finance_officer.get(url).content.decode()
        assert PASTED not in page and integration.oauth_client_secret_ref not in page


@pytest.mark.parametrize("overrides, field, message", [
    ({"chart_of_accounts_mapping__value": ["30", "3020", ""]}, "chart_of_accounts_mapping",
     "license_fees: must be a four-digit BAS account number"),
    ({"chart_of_accounts_mapping__key": ["membership_dues", "", ""]}, "chart_of_accounts_mapping",
     "membership_dues: unknown category"),
    ({"fiscal_year": "1999"}, "fiscal_year", "Ensure this value is greater than or equal to 2000."),
    ({"sync_direction": "sideways"}, "sync_direction", "&quot;sideways&quot; is not a valid choice."),
    ({"display_name": ""}, "display_name", "This field is required."),
    ({"oauth_client_secret_ref": "plain-secret-value", "oauth_client_secret_ref__secret": ""},
     "oauth_client_secret_ref", "must be a secret ref (kv://, local://, env://), not a secret value"),
    ({"api_key_ref": "local://nothing-stored-here"}, "api_key_ref", "local://nothing-stored-here does not exist"),
], ids=["bad-account", "unknown-category", "fiscal-year", "choice", "required", "inline-secret", "missing-ref"])
def test_field_errors_come_from_the_family_serializer_and_nothing_is_stored(finance_officer, tenant, overrides,
                                                                             field, message):
    response = finance_officer.post(reverse("integrations_wizard:create", args=["accounting", "fortnox"]),
                                    FORM | overrides)

    page = response.content.decode()
    assert response.status_code == 200
    assert f'id="errors_{field}"><li>{message}' in page
    assert "plain-secret-value" not in page and PASTED not in page
    assert not AccountingIntegration.objects.exists()
    assert not LocalSecret.objects.filter(tenant=tenant).exists()


def test_a_rejected_form_keeps_no_pasted_secret(finance_officer, tenant):
    form = FORM | {"fiscal_year": "3000"}

    finance_officer.post(reverse("integrations_wizard:create", args=["accounting", "fortnox"]), form)

    assert not LocalSecret.objects.filter(tenant=tenant).exists()


def test_editing_sends_only_changes_and_keeps_refs(finance_officer, tenant):
    ref = secret_store(tenant=tenant, name="fortnox-secret", value="s3cret-value-123")
    integration = _fortnox(tenant, oauth_client_secret_ref=ref, fiscal_year=2025)
    changed_at = integration.config_changed_at
    page = finance_officer.get(reverse("integrations_wizard:edit", args=[integration.pk])).content.decode()
    assert "✔ set" in page and ref not in page

    response = finance_officer.post(reverse("integrations_wizard:edit", args=[integration.pk]), {
        "display_name": integration.display_name, "sandbox_mode": "on", "oauth_client_id": "client-1",
        "company_id": "Sandbox", "fiscal_year": "2026", "sync_direction": "push", "quota_period": "month",
        "fiscal_year_start_month": "1", "fiscal_year_start_day": "1"})

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.fiscal_year == 2026 and integration.oauth_client_secret_ref == ref
    assert integration.config_changed_at > changed_at


def test_activation_without_validation_is_shown_as_a_message(finance_officer, tenant):
    integration = _fortnox(tenant)

    response = finance_officer.post(reverse("integrations_wizard:action", args=[integration.pk, "activate"]),
                                    follow=True)

    assert "Cannot activate: cannot activate: run validate/ first" in response.content.decode()
    integration.refresh_from_db()
    assert integration.status == Status.DRAFT


def test_only_allowed_actions_are_offered(finance_officer, tenant):
    page = finance_officer.get(reverse("integrations_wizard:detail", args=[_fortnox(tenant).pk])).content.decode()

    assert re.findall(r'id="action-(\w+)"', page) == ["activate", "decommission"]
    assert 'id="connect"' in page and 'id="validate"' in page


def test_the_usage_panel_draws_the_last_30_days(finance_officer, tenant):
    integration = _fortnox(tenant, quota_limit=100, quota_period="day")
    UsageDaily.objects.create(tenant=tenant, integration_id=integration.pk, day=timezone.now().date(), shard=0,
                              requests=7, errors=2, latency_ms_total=700, quota_units=7)

    page = finance_officer.get(reverse("integrations_wizard:detail", args=[integration.pk])).content.decode()

    assert re.search(r'id="usage-requests">7<', page) and re.search(r'id="usage-errors">2<', page)
    assert re.search(r'id="usage-quota">7.0%<', page)
    assert page.count('class="usage-day"') == 30
    assert f'data-day="{timezone.now().date().isoformat()}" data-requests="7" data-errors="2"' in page
    assert "<script" not in page.split('id="usage-panel"')[1].split("</svg>")[0]


def test_members_read_but_cannot_change(member, tenant):
    integration = _fortnox(tenant)

    detail = member.get(reverse("integrations_wizard:detail", args=[integration.pk]))
    writes = [member.post(reverse("integrations_wizard:validate", args=[integration.pk])),
              member.post(reverse("integrations_wizard:action", args=[integration.pk, "decommission"])),
              member.post(reverse("integrations_wizard:connect", args=[integration.pk])),
              member.get(reverse("integrations_wizard:edit", args=[integration.pk])),
              member.get(reverse("integrations_wizard:choose-family"))]

    assert detail.status_code == 200 and 'id="validate"' not in detail.content.decode()
    assert [r.status_code for r in writes] == [403] * 5
    integration.refresh_from_db()
    assert integration.status == Status.DRAFT and integration.last_validated_at is None


def test_another_tenants_integration_is_404(finance_officer, other_tenant):
    foreign = _fortnox(other_tenant)

    for name in ("detail", "edit"):
        assert finance_officer.get(reverse(f"integrations_wizard:{name}", args=[foreign.pk])).status_code == 404
    assert finance_officer.post(reverse("integrations_wizard:validate", args=[foreign.pk])).status_code == 404


def test_anonymous_users_are_sent_to_the_login(client):
    response = client.get(reverse("integrations_wizard:list"))

    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_connect_redirects_to_the_provider_with_the_admin_page_to_return_to(finance_officer, tenant,
                                                                            oauth_server_for):
    server = oauth_server_for("fortnox")
    integration = _fortnox(tenant, oauth_client_secret_ref=secret_store(tenant=tenant, name="fx", value="x" * 12))

    response = finance_officer.post(reverse("integrations_wizard:connect", args=[integration.pk]))

    assert response.status_code == 302 and response["Location"].startswith(server.authorize_url + "?")


def _follow_to_callback(response) -> str:
    """The browser at the provider: the authorization server answers with the redirect back."""
    at_provider = httpx.get(response["Location"], follow_redirects=False)
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    return f"{back.path}?{back.query}"


def test_a_connect_started_in_the_admin_returns_to_the_integration_page(finance_officer, tenant, oauth_server_for):
    oauth_server_for("fortnox")
    integration = _fortnox(tenant, oauth_client_id="hub-client-0001",
                           oauth_client_secret_ref=secret_store(tenant=tenant, name="fx",
                                                                value="hub-client-secret-0123456789abcdef"))

    callback = _follow_to_callback(finance_officer.post(reverse("integrations_wizard:connect", args=[integration.pk])))
    response = finance_officer.get(callback, follow=True)

    assert response.redirect_chain == [(reverse("integrations_wizard:detail", args=[integration.pk]), 302)]
    page = response.content.decode()
    assert "Connected Fortnox (bokföring) to its provider." in page
    assert re.search(r'id="oauth-state">connected ', page)
    integration.refresh_from_db()
    assert integration.oauth_access_token_ref.endswith("-access/1")
    assert secret_resolve(tenant=tenant, ref=integration.oauth_access_token_ref) not in page


def test_a_declined_connect_started_in_the_admin_shows_why(finance_officer, tenant, oauth_server_for):
    server = oauth_server_for("fortnox")
    server.deny_next()
    integration = _fortnox(tenant, oauth_client_id="hub-client-0001",
                           oauth_client_secret_ref=secret_store(tenant=tenant, name="fx", value="x" * 12))

    callback = _follow_to_callback(finance_officer.post(reverse("integrations_wizard:connect", args=[integration.pk])))
    response = finance_officer.get(callback, follow=True)

    page = response.content.decode()
    assert "Connecting failed: Fortnox did not grant access (access_denied: The user denied access)" in page
    assert re.search(r'id="oauth-state">not connected', page)


def test_connect_without_client_credentials_is_a_message(finance_officer, tenant):
    integration = _fortnox(tenant, oauth_client_id="")

    response = finance_officer.post(reverse("integrations_wizard:connect", args=[integration.pk]), follow=True)

    assert "Cannot connect: set oauth_client_id and oauth_client_secret_ref before connecting" in \
        response.content.decode()
