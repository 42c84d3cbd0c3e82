"""The accounting family end to end: input rules (chart-of-accounts mapping, fiscal year, company
ids, credentials per provider), the pre-flight call against each provider's local sandbox, the
lifecycle and usage, and the Fortnox OAuth server other tests rely on."""
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from django.utils import timezone

from adapters import oauth
from adapters.errors import ProviderAuthFailed
from adapters.providers import quickbooks, tripletex, uniconomy, visma, xledger
from integrations.models import AccountingIntegration
from integrations.secrets.services import secret_store
from tests.sandboxes.quickbooks import DEFAULT_REALM_ID
from tests.sandboxes.uniconomy import DEFAULT_COMPANY_KEY
from tests.sandboxes.xero import DEFAULT_TENANT_ID

BASE = "/api/v1/integrations/accounting"
OAUTH = ("fortnox", "xero", "quickbooks", "visma", "visma_net", "uniconomy")
PROVIDERS = (*OAUTH, "tripletex", "xledger")


@dataclass(frozen=True)
class Case:
    passed: str  # the validation message
    call: tuple[str, str]  # the request that proves it
    refused: str  # the provider's words for a wrong credential
    company_id: str = ""


CASES = {
    "fortnox": Case("connected to Fortnox company Sandbox Förbundet (802000-0000)", ("GET", "/3/companyinformation"),
                    "Invalid, expired or missing access token."),
    "xero": Case("connected to Xero organisation Demo Company (SE) (5 active accounts)",
                 ("GET", "/api.xro/2.0/Accounts"), "AuthenticationUnsuccessful", DEFAULT_TENANT_ID),
    "quickbooks": Case(f"connected to QuickBooks company Sandbox Company_US_1 (realm {DEFAULT_REALM_ID})",
                       ("GET", f"/v3/company/{DEFAULT_REALM_ID}/companyinfo/{DEFAULT_REALM_ID}"),
                       "AuthenticationFailed", DEFAULT_REALM_ID),
    "visma": Case("connected to Visma eAccounting company Sandbox Idrottsförening (802400-0000)",
                  ("GET", "/v2/companysettings"), "UnauthorizedException"),
    "visma_net": Case("connected to Visma.net ERP (4 active accounts)", ("GET", "/v1/account"),
                      "Invalid or expired token."),
    "uniconomy": Case("connected to Uniconomy company Sandbox Idrettslag (998877665)",
                      ("GET", "/api/biz/companysettings/1"), "Authorization has been denied", DEFAULT_COMPANY_KEY),
    "tripletex": Case("connected to Tripletex company Sandbox Idrettslag (1001)", ("GET", "/v2/token/session/>whoAmI"),
                      "Invalid consumer token or employee token."),
    "xledger": Case("authenticated with Xledger (customers readable)", ("POST", "/graphql"),
                    "Invalid or missing API token."),
}
WRONG = "wrong-credential-0451"


def _secret(api, name: str, value: str) -> str:
    response = api.post("/api/v1/secrets/", {"name": name, "value": value}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["ref"]


def _credentials(api, provider: str, sandbox, *, wrong: bool = False) -> dict:
    if provider == "tripletex":
        return {"oauth_client_secret_ref": _secret(api, "consumer", sandbox.consumer_token),
                "api_key_ref": _secret(api, "employee", WRONG if wrong else sandbox.employee_token)}
    if provider == "xledger":
        return {"api_key_ref": _secret(api, "xledger-token", WRONG if wrong else sandbox.api_token)}
    return {"oauth_client_id": "hub-client", "oauth_client_secret_ref": _secret(api, "client-secret", "s3cret-value"),
            "oauth_refresh_token_ref": _secret(api, "refresh", "refresh-token-value")}


def _create(api, provider: str, sandbox, *, wrong: bool = False, **overrides) -> dict:
    mapping = {"license_fees": "3010", "tournament_fees": "3020"}
    body = {"display_name": f"{provider} books", "provider": provider, "company_id": CASES[provider].company_id,
            "fiscal_year": 2026, "fiscal_year_start_month": 1, "fiscal_year_start_day": 1, "sync_direction": "push",
            "chart_of_accounts_mapping": mapping, "invoice_sync": True,
            **_credentials(api, provider, sandbox, wrong=wrong), **overrides}
    response = api.post(f"{BASE}/", body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    if provider in OAUTH:  # what the OAuth connect flow leaves behind: a live access token
        _connect(created["id"], WRONG if wrong else sandbox.access_token)
    return created


def _connect(integration_id, token: str, *, expires_in=timedelta(hours=1)) -> None:
    integration = AccountingIntegration.objects.get(pk=integration_id)
    ref = secret_store(tenant=integration.tenant, name=f"access-{integration_id}", value=token)
    AccountingIntegration.objects.filter(pk=integration_id).update(
        oauth_access_token_ref=ref, oauth_token_expires_at=timezone.now() + expires_in)


def _validate(api, created: dict) -> dict:
    response = api.post(f"{BASE}/{created['id']}/validate/")
    assert response.status_code == 200, response.json()
    return response.json()


def _usage(api, created: dict) -> dict:
    return api.get(f"{BASE}/{created['id']}/usage/").json()["totals"]


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_created_in_draft_with_refs_listed_but_never_returned(api, accounting_sandbox, provider):
    sandbox = accounting_sandbox(provider)

    created = _create(api, provider, sandbox)

    assert created["status"] == "draft" and created["allowed_actions"] == ["activate", "decommission"]
    assert created["credential_refs_set"] == {"tripletex": ["api_key_ref", "oauth_client_secret_ref"],
                                              "xledger": ["api_key_ref"]}.get(
        provider, ["oauth_client_secret_ref", "oauth_refresh_token_ref"])
    assert not [name for name in created if name.endswith("_ref")]
    assert (created["chart_of_accounts_mapping"], created["fiscal_year"]) == (
        {"license_fees": "3010", "tournament_fees": "3020"}, 2026)
    assert (created["webhook_url"] is not None) == (provider == "xero")
    assert sandbox.requests == []


BAD_INPUT = [
    ({"colour": "blue"}, "colour"),
    ({"api_key_ref": "inline-secret-value"}, "api_key_ref"),
    ({"oauth_client_secret_ref": "local://does-not-exist"}, "oauth_client_secret_ref"),
    ({"provider": "sage"}, "provider"),
    ({"sync_direction": "sideways"}, "sync_direction"),
    ({"capabilities": {"payroll": True}}, "capabilities"),
    ({"status": "active"}, "status"),
    ({"chart_of_accounts_mapping": {"license_fee": "3010"}}, "chart_of_accounts_mapping"),
    ({"chart_of_accounts_mapping": {"license_fees": "301"}}, "chart_of_accounts_mapping"),
    ({"chart_of_accounts_mapping": {"license_fees": "9010"}}, "chart_of_accounts_mapping"),
    ({"chart_of_accounts_mapping": {"license_fees": 3010}}, "chart_of_accounts_mapping"),
    ({"chart_of_accounts_mapping": ["3010"]}, "chart_of_accounts_mapping"),
    ({"fiscal_year": 1999}, "fiscal_year"),
    ({"fiscal_year": 2101}, "fiscal_year"),
    ({"fiscal_year": "next"}, "fiscal_year"),
    ({"fiscal_year_start_month": 13}, "fiscal_year_start_month"),
    ({"fiscal_year_start_month": 0}, "fiscal_year_start_month"),
    ({"fiscal_year_start_month": 4, "fiscal_year_start_day": 31}, "fiscal_year_start_day"),
    ({"fiscal_year_start_month": 2, "fiscal_year_start_day": 29}, "fiscal_year_start_day"),
    ({"api_key_ref": "env://HUB_FORTNOX_KEY"}, "api_key_ref"),  # Fortnox connects through OAuth only
    ({"provider": "xero", "company_id": "not-a-tenant"}, "company_id"),
    ({"provider": "quickbooks", "company_id": "realm-12"}, "company_id"),
    ({"provider": "uniconomy", "company_id": "acme"}, "company_id"),
    ({"provider": "xero", "chart_of_accounts_mapping": {"sales": "REVENUE-0001"}}, "chart_of_accounts_mapping"),
    ({"provider": "xledger", "oauth_client_id": "abc"}, "oauth_client_id"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("override, field", BAD_INPUT, ids=[f"{f}:{list(o.values())[-1]}" for o, f in BAD_INPUT])
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(api, override, field):
    body = {"display_name": "Books", "provider": "fortnox", "oauth_client_id": "hub-client",
            "chart_of_accounts_mapping": {"license_fees": "3010"}}
    if override.get("provider") == "xledger":
        body.pop("oauth_client_id")

    response = api.post(f"{BASE}/", body | override, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"], response.json()
    assert "inline-secret-value" not in response.content.decode()
    assert not AccountingIntegration.objects.exists()


@pytest.mark.django_db
def test_mapping_errors_name_each_category_and_the_rule(api):
    response = api.post(f"{BASE}/", {"display_name": "Books", "provider": "visma", "chart_of_accounts_mapping": {
        "license_fees": "3010", "ticket_fees": "3030", "tournament_fees": "30A0"}}, format="json")

    errors = response.json()["errors"]["chart_of_accounts_mapping"]
    assert set(errors) == {"ticket_fees", "tournament_fees"}
    assert errors["ticket_fees"][0].startswith("unknown category; known: accommodation, bank, bank_fees")
    assert errors["tournament_fees"] == ["must be a four-digit BAS account number between 1000 and 8999, as a string"]


@pytest.mark.django_db
@pytest.mark.parametrize("provider, accounts", [
    ("fortnox", {"license_fees": "3010", "bank": "1930", "vat_output": "2611"}),
    ("xero", {"sales": "200", "bank": "090", "sponsorship": "SPONS1"}),
    ("tripletex", {"membership_fees": "3100"}),
])
def test_valid_mappings_and_a_february_28_start_are_stored(api, provider, accounts):
    body = {"display_name": "Books", "provider": provider, "chart_of_accounts_mapping": accounts,
            "fiscal_year_start_month": 2, "fiscal_year_start_day": 28}

    response = api.post(f"{BASE}/", body, format="json")

    assert response.status_code == 201, response.json()
    assert AccountingIntegration.objects.get().chart_of_accounts_mapping == accounts


@pytest.mark.django_db
def test_a_patch_is_checked_against_the_stored_start_day(api):
    created = api.post(f"{BASE}/", {"display_name": "Books", "provider": "fortnox", "fiscal_year_start_month": 7,
                                    "fiscal_year_start_day": 31}, format="json").json()

    response = api.patch(f"{BASE}/{created['id']}/", {"fiscal_year_start_month": 6}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["fiscal_year_start_day"] == [
        "June has 30 days; a fiscal year cannot start on day 31"]
    assert AccountingIntegration.objects.get().fiscal_year_start_month == 7


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_validation_passes_then_the_whole_lifecycle_with_usage(api, accounting_sandbox, provider):
    sandbox = accounting_sandbox(provider)
    created = _create(api, provider, sandbox)

    run = _validate(api, created)
    statuses = [api.post(f"{BASE}/{created['id']}/{action}/").json()["status"]
                for action in ("activate", "pause", "resume", "decommission")]
    illegal = api.post(f"{BASE}/{created['id']}/resume/")

    assert run["passed"] is True, run["message"]
    assert run["message"] == CASES[provider].passed
    last = sandbox.requests[-1]
    assert (last.method, unquote(last.path)) == CASES[provider].call
    assert statuses == ["active", "paused", "active", "decommissioned"]
    assert illegal.status_code == 409 and illegal.json()["code"] == "invalid_transition"
    assert (_usage(api, created)["requests"], _usage(api, created)["errors"]) == (1, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wrong_credential_fails_with_the_providers_reason(api, accounting_sandbox, provider):
    sandbox = accounting_sandbox(provider)
    created = _create(api, provider, sandbox, wrong=True)

    run = _validate(api, created)
    activated = api.post(f"{BASE}/{created['id']}/activate/")

    assert run["passed"] is False
    assert CASES[provider].refused in run["message"]
    assert WRONG not in run["message"]
    assert activated.status_code == 409 and activated.json()["code"] == "validation_required"
    assert (_usage(api, created)["requests"], _usage(api, created)["errors"]) == (1, 1)  # never retried


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_provider_that_is_down_fails_validation_after_one_retry(api, accounting_sandbox, provider):
    sandbox = accounting_sandbox(provider)
    created = _create(api, provider, sandbox)
    sandbox.go_down()

    run = _validate(api, created)

    display_name = {"quickbooks": "QuickBooks Online", "visma": "Visma eAccounting", "visma_net": "Visma.net"}.get(
        provider, provider.capitalize())
    assert run["passed"] is False
    assert run["message"].startswith(f"{display_name} answered: ") and "failed (ConnectError)" in run["message"]
    assert _usage(api, created)["errors"] == 2


@pytest.mark.django_db
@pytest.mark.parametrize("provider, company_id, reason", [
    ("xero", "00000000-0000-4000-8000-000000000000", "is not connected to this app (connected organisations: "
                                                     "Demo Company (SE))"),
    ("quickbooks", "4620816365", "ApplicationAuthorizationFailed"),
    ("uniconomy", "00000000-0000-4000-8000-000000000000", "No access to company"),
    ("tripletex", "3003", "You do not have access to company 3003."),
])
def test_a_company_the_credentials_do_not_reach_fails(api, accounting_sandbox, provider, company_id, reason):
    sandbox = accounting_sandbox(provider)
    created = _create(api, provider, sandbox, company_id=company_id)

    run = _validate(api, created)

    assert run["passed"] is False and reason in run["message"], run["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["xero", "quickbooks", "uniconomy"])
def test_a_missing_company_id_fails_before_any_request(api, accounting_sandbox, provider):
    sandbox = accounting_sandbox(provider)
    created = _create(api, provider, sandbox, company_id="")

    run = _validate(api, created)

    assert run["passed"] is False and run["message"].startswith("company_id (") and "is needed" in run["message"]
    assert sandbox.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("provider, mapping, missing", [
    ("xero", {"license_fees": "3010", "sponsorship": "999", "grants": "4100"}, "4100, 999"),
    ("visma_net", {"license_fees": "3010", "sales": "3900"}, "3900"),
])
def test_mapped_accounts_missing_from_the_chart_fail(api, accounting_sandbox, provider, mapping, missing):
    sandbox = accounting_sandbox(provider)
    created = _create(api, provider, sandbox, chart_of_accounts_mapping=mapping)

    run = _validate(api, created)

    assert run["passed"] is False and run["message"].endswith(missing), run["message"]


@pytest.mark.django_db
def test_xero_accounts_read_names_the_tenant_and_asks_for_active_accounts(api, xero_sandbox):
    created = _create(api, "xero", xero_sandbox)

    _validate(api, created)

    connections, accounts = xero_sandbox.requests
    assert connections.path == "/Connections"
    assert accounts.headers["xero-tenant-id"] == DEFAULT_TENANT_ID
    assert accounts.query["where"] == ['Status=="ACTIVE"']
    assert accounts.headers["authorization"] == f"Bearer {xero_sandbox.access_token}"


@pytest.mark.django_db
@pytest.mark.parametrize("provider, switch, reason", [
    ("visma", "api_module_active", "ForbiddenRequestException - No access to module: api_standard"),
    ("visma_net", "licensed", "No license for this company."),
])
def test_a_company_without_api_access_fails_with_the_providers_reason(api, accounting_sandbox, provider, switch,
                                                                       reason):
    sandbox = accounting_sandbox(provider)
    setattr(sandbox, switch, False)
    created = _create(api, provider, sandbox)

    run = _validate(api, created)

    assert run["passed"] is False and reason in run["message"]


@pytest.mark.django_db
def test_visma_companysettings_needs_a_sales_scope(api, visma_sandbox):
    visma_sandbox.access_token = visma_sandbox.issue_access_token(("ea:api", "ea:accounting"))
    created = _create(api, "visma", visma_sandbox)

    run = _validate(api, created)

    assert run["passed"] is False and "Missing scope ea:sales or ea:sales_readonly" in run["message"]


@pytest.mark.django_db
def test_tripletex_session_for_tomorrow_then_whoami_as_an_accountants_client(api, tripletex_sandbox):
    created = _create(api, "tripletex", tripletex_sandbox, company_id="2002")

    run = _validate(api, created)

    create, who = tripletex_sandbox.requests
    assert create.method == "PUT" and unquote(create.path) == "/v2/token/session/:create"
    assert create.query["expirationDate"] == [(date.today() + timedelta(days=1)).isoformat()]
    session_token = next(iter(tripletex_sandbox.sessions))
    assert who.headers["authorization"] == tripletex.basic_authorization(
        tripletex.Config(consumer_token="", employee_token="", base_url="", company_id="2002"), session_token)
    assert run["message"] == "connected to Tripletex company Klient Klubb (2002)"


@pytest.mark.django_db
def test_xledger_burst_limit_is_retried_once_and_counted(api, xledger_sandbox):
    created = _create(api, "xledger", xledger_sandbox)
    xledger_sandbox.burst_limit_next()

    run = _validate(api, created)

    assert run["passed"] is True
    assert xledger_sandbox.requests[-1].headers["authorization"] == f"token {xledger_sandbox.api_token}"
    assert (_usage(api, created)["requests"], _usage(api, created)["errors"]) == (2, 1)


@pytest.mark.django_db
def test_live_uniconomy_without_a_platform_host_fails_before_any_request(api, uniconomy_sandbox, monkeypatch):
    created = _create(api, "uniconomy", uniconomy_sandbox, sandbox_mode=False)
    monkeypatch.delenv("PROVIDER_UNICONOMY_BASE_URL")

    run = _validate(api, created)

    assert run["passed"] is False and "set PROVIDER_UNICONOMY_BASE_URL" in run["message"]
    assert uniconomy_sandbox.requests == []


@pytest.mark.parametrize("adapter, sandbox_host, live_host", [
    (quickbooks, "https://sandbox-quickbooks.api.intuit.com", "https://quickbooks.api.intuit.com"),
    (visma, "https://eaccountingapi-sandbox.test.vismaonline.com", "https://eaccountingapi.vismaonline.com"),
    (tripletex, "https://api-test.tripletex.tech/v2", "https://tripletex.no/v2"),
    (xledger, "https://demo.xledger.net", "https://www.xledger.net"),
    (uniconomy, "https://test.unimicro.no", ""),
])
def test_sandbox_mode_picks_the_providers_test_host(monkeypatch, adapter, sandbox_host, live_host):
    monkeypatch.delenv(f"PROVIDER_{adapter.key.upper()}_BASE_URL", raising=False)

    assert (adapter.base_url(sandbox=True), adapter.base_url(sandbox=False)) == (sandbox_host, live_host)
    monkeypatch.setenv(f"PROVIDER_{adapter.key.upper()}_BASE_URL", "http://127.0.0.1:9")
    assert adapter.base_url(sandbox=True) == adapter.base_url(sandbox=False) == "http://127.0.0.1:9"


@pytest.mark.django_db
def test_an_expired_fortnox_token_is_refreshed_at_the_sandboxs_token_endpoint(api, fortnox_sandbox):
    created = _create(api, "fortnox", fortnox_sandbox)
    AccountingIntegration.objects.filter(pk=created["id"]).update(oauth_client_id=fortnox_sandbox.client_id)
    refresh = _fortnox_code_exchange(fortnox_sandbox).refresh_token
    integration = AccountingIntegration.objects.get(pk=created["id"])
    AccountingIntegration.objects.filter(pk=created["id"]).update(
        oauth_client_secret_ref=secret_store(tenant=integration.tenant, name="fx-secret",
                                             value=fortnox_sandbox.client_secret),
        oauth_refresh_token_ref=secret_store(tenant=integration.tenant, name="fx-refresh", value=refresh))
    _connect(created["id"], fortnox_sandbox.access_token, expires_in=timedelta(seconds=-1))

    run = _validate(api, created)

    assert run["passed"] is True, run["message"]
    token_call, api_call = fortnox_sandbox.requests[-2:]
    assert (token_call.path, token_call.parsed_body["grant_type"]) == ("/oauth-v1/token", "refresh_token")
    assert api_call.headers["authorization"] != f"Bearer {fortnox_sandbox.access_token}"
    with pytest.raises(ProviderAuthFailed, match="invalid_grant"):  # rotated: the old refresh token is void
        _refresh(fortnox_sandbox, refresh)


def _fortnox_code_exchange(sandbox) -> oauth.TokenSet:
    """The connect flow as the hub's OAuth client runs it against the sandbox's authorization server."""
    provider = oauth.oauth_provider("fortnox")
    url = oauth.authorization_url(provider, client_id=sandbox.client_id, redirect_uri="https://hub.test/cb",
                                  state="st-1")
    redirect = httpx.get(url).headers["location"]
    query = parse_qs(urlsplit(redirect).query)
    assert redirect.startswith("https://hub.test/cb?") and query["state"] == ["st-1"]
    return oauth.exchange_code(provider, client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                               code=query["code"][0], redirect_uri="https://hub.test/cb", code_verifier=None)


def _refresh(sandbox, refresh_token: str) -> oauth.TokenSet:
    return oauth.refresh_tokens(oauth.oauth_provider("fortnox"), client_id=sandbox.client_id,
                                client_secret=sandbox.client_secret, refresh_token=refresh_token)



@pytest.mark.django_db
def test_only_xero_takes_a_webhook_signing_key(api, tenant):
    ref = secret_store(tenant=tenant, name="xero-webhook-key", value="xero-key-123456")
    base = {"display_name": "Books", "oauth_client_id": "client", "webhook_signing_key_ref": ref}

    xero = api.post("/api/v1/integrations/accounting/", base | {"provider": "xero"}, format="json")
    fortnox = api.post("/api/v1/integrations/accounting/", base | {"provider": "fortnox"}, format="json")

    assert xero.status_code == 201, xero.json()
    assert xero.json()["credential_refs_set"] == ["webhook_signing_key_ref"]
    assert fortnox.status_code == 400
    assert fortnox.json()["errors"]["webhook_signing_key_ref"] == ["fortnox sends no webhooks the hub receives"]
