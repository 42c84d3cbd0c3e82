"""OAuth connect and the token lifecycle, end to end against local authorization servers."""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from adapters.errors import ProviderAuthFailed, ProviderUnavailable
from adapters.oauth import OAUTH_PROVIDERS, pkce_challenge
from integrations.families.registry import family_spec
from integrations.lifecycle import Status
from integrations.models import Integration, LifecycleTransition, LocalSecret
from integrations.oauth.tokens import oauth_access_token, oauth_force_refresh
from integrations.secrets.services import secret_resolve, secret_store
from tests.sandboxes.fortnox import FortnoxSandbox
from tests.sandboxes.oauth_server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

CALLBACK = "/api/v1/oauth/callback/"
# (family, provider, server options): one connect story per OAuth provider the families offer.
PROVIDERS = [
    ("calendars", "google", {}),
    ("calendars", "outlook", {}),
    ("social-media", "facebook", {"issue_refresh_tokens": False}),
    ("social-media", "instagram", {"issue_refresh_tokens": False}),
    ("social-media", "x", {}),
    ("streaming", "youtube", {}),
    ("streaming", "twitch", {"scope_as_list": True}),
    ("accounting", "xero", {}),
    ("accounting", "quickbooks", {}),
    ("accounting", "visma", {}),
    ("accounting", "visma_net", {}),
    ("accounting", "uniconomy", {}),
]


def _integration(tenant, family="calendars", provider="google", *, status=Status.DRAFT,
                 client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, **fields):
    secret_ref = secret_store(tenant=tenant, name=f"client-secret-{provider}", value=client_secret)
    model = family_spec(family).model
    return model.objects.create(tenant=tenant, family=family, provider=provider, display_name=f"{provider} test",
                                status=status, oauth_client_id=client_id, oauth_client_secret_ref=secret_ref,
                                **fields)


def _start(api, integration, **body):
    return api.post(f"/api/v1/integrations/{integration.family}/{integration.pk}/oauth/start/", body, format="json")


def _authorize(authorization_url: str) -> str:
    """What the user's browser does at the provider: returns the callback path and query."""
    response = httpx.get(authorization_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    return f"{location.path}?{location.query}"


def _connect(api, integration) -> tuple[dict, dict]:
    started = _start(api, integration)
    assert started.status_code == 200, started.json()
    callback = Client().get(_authorize(started.json()["authorization_url"]), HTTP_ACCEPT="application/json")
    assert callback.status_code == 200, callback.content
    return started.json(), callback.json()


@pytest.mark.django_db
@pytest.mark.parametrize("family, provider, options", PROVIDERS, ids=[p for _, p, _ in PROVIDERS])
def test_connect_stores_only_refs_and_the_tokens_work(tenant, api, oauth_server_for, caplog, family, provider,
                                                       options):
    # given an integration with client credentials and the provider's authorization server
    caplog.set_level(logging.DEBUG)
    server = oauth_server_for(provider, **options)
    integration = _integration(tenant, family, provider)
    changed_before = integration.config_changed_at

    # when the flow is started, the user approves at the provider, and the browser comes back
    started, connected = _connect(api, integration)

    # then the authorization URL is the provider's, with the flow's parameters
    query = parse_qs(urlsplit(started["authorization_url"]).query)
    metadata = OAUTH_PROVIDERS[provider]
    assert started["authorization_url"].startswith(server.authorize_url + "?")
    assert query["state"] == [started["state"]] and query["client_id"] == [DEFAULT_CLIENT_ID]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/api/v1/oauth/callback/"]
    assert query["scope"] == [" ".join(metadata.default_scopes)]
    assert ("code_challenge" in query) is metadata.pkce
    for name, value in metadata.extra_authorize_params:
        assert query[name] == [value]
    # the answer names the connection, never a token
    assert connected["status"] == "connected" and connected["integration_id"] == str(integration.pk)
    assert connected["provider"] == provider and connected["scopes"] == list(metadata.default_scopes)
    # the row keeps versioned refs; the values behind them are the tokens the server issued
    integration.refresh_from_db()
    assert integration.oauth_access_token_ref == f"local://oauth-{integration.pk}-access/1"
    access = secret_resolve(tenant=tenant, ref=integration.oauth_access_token_ref)
    assert server.access_token_is_live(access)
    if options.get("issue_refresh_tokens", True):
        assert integration.oauth_refresh_token_ref == f"local://oauth-{integration.pk}-refresh/1"
        assert secret_resolve(tenant=tenant, ref=integration.oauth_refresh_token_ref) in server.live_refresh_tokens()
    else:
        assert integration.oauth_refresh_token_ref == ""
    assert integration.oauth_scopes == list(metadata.default_scopes)
    assert timezone.now() + timedelta(minutes=59) < integration.oauth_token_expires_at
    assert integration.oauth_connected_at is not None and integration.config_changed_at > changed_before
    assert integration.status == Status.DRAFT
    assert not LifecycleTransition.objects.filter(integration=integration).exists()
    # the bearer works at the provider, and no token reached a response or a log line
    assert httpx.get(f"{server.url}/me", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    for value in [access, *server.live_refresh_tokens()]:
        assert value not in str(started) and value not in str(connected) and value not in caplog.text
    assert "oauth connected" in caplog.text
    assert [r["outcome"] for r in server.token_requests] == ["issued"]


@pytest.mark.django_db
def test_fortnox_connect_validate_activate_against_its_sandbox(tenant, api, sandbox_factory, monkeypatch):
    # given the Fortnox sandbox playing both the authorization server and the API
    fortnox = sandbox_factory(FortnoxSandbox)
    for name, value in (("BASE_URL", fortnox.url), ("AUTHORIZE_URL", f"{fortnox.url}/oauth-v1/auth"),
                        ("TOKEN_URL", f"{fortnox.url}/oauth-v1/token")):
        monkeypatch.setenv(f"PROVIDER_FORTNOX_{name}", value)
    integration = _integration(tenant, "accounting", "fortnox", client_id=fortnox.client_id,
                               client_secret=fortnox.client_secret, company_id="Sandbox Förbundet")

    # when connected, validated and activated through the API
    _connect(api, integration)
    validated = api.post(f"/api/v1/integrations/accounting/{integration.pk}/validate/")
    activated = api.post(f"/api/v1/integrations/accounting/{integration.pk}/activate/")

    # then Fortnox's company information answered with the stored access token
    assert validated.status_code == 200 and validated.json()["passed"] is True, validated.json()
    assert activated.status_code == 200 and activated.json()["status"] == "active"
    integration.refresh_from_db()
    api_calls = [r for r in fortnox.requests if r.path.startswith("/3/")]
    assert [r.path for r in api_calls] == ["/3/companyinformation"]
    assert api_calls[0].headers["authorization"] == \
        f"Bearer {secret_resolve(tenant=tenant, ref=integration.oauth_access_token_ref)}"


@pytest.mark.django_db
def test_a_used_state_is_refused_the_second_time(tenant, api, oauth_server_for):
    oauth_server_for("google")
    integration = _integration(tenant)
    started = _start(api, integration).json()
    callback = _authorize(started["authorization_url"])
    assert Client().get(callback).status_code == 200

    replay = Client().get(callback)

    assert replay.status_code == 400
    assert replay.json()["code"] == "oauth_state_reused"
    assert "start the connection again" in replay.json()["detail"]
    assert LocalSecret.objects.filter(tenant=tenant, name__startswith="oauth-").count() == 2  # the first only


@pytest.mark.django_db
@pytest.mark.parametrize("state, code", [("A" * 43, "oauth_state_unknown"), ("", "oauth_state_invalid"),
                                         ("not a state", "oauth_state_invalid"), ("x" * 5000, "oauth_state_invalid")])
def test_an_unknown_or_malformed_state_is_400(db, state, code):
    response = Client().get(CALLBACK, {"state": state, "code": "whatever"})

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


@pytest.mark.django_db
def test_an_expired_state_is_400_and_stores_nothing(tenant, api, oauth_server_for, settings):
    oauth_server_for("google")
    settings.OAUTH_STATE_TTL_SECONDS = 1
    integration = _integration(tenant)
    callback = _authorize(_start(api, integration).json()["authorization_url"])
    time.sleep(1.3)

    response = Client().get(callback)

    assert response.status_code == 400 and response.json()["code"] == "oauth_state_unknown"
    integration.refresh_from_db()
    assert integration.oauth_access_token_ref == "" and integration.oauth_connected_at is None


@pytest.mark.django_db
def test_a_wrong_pkce_verifier_is_refused_by_the_provider_and_nothing_is_stored(tenant, api, oauth_server_for,
                                                                                 caplog):
    # given a flow whose server-side verifier no longer matches the challenge the provider saw
    server = oauth_server_for("google")
    integration = _integration(tenant)
    started = _start(api, integration).json()
    key = f"oauth-state:{started['state']}"
    cache.set(key, cache.get(key) | {"code_verifier": "W" * 64}, timeout=60)
    assert pkce_challenge("W" * 64) not in started["authorization_url"]

    # when the browser comes back
    response = Client().get(_authorize(started["authorization_url"]))

    # then the provider refused the exchange, the callback says so, and nothing was stored
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "oauth_code_rejected"
    assert "invalid_grant" in body["detail"] and "nothing was stored" in body["detail"]
    assert [r["outcome"] for r in server.token_requests] == ["invalid_grant"]
    integration.refresh_from_db()
    assert (integration.oauth_access_token_ref, integration.oauth_refresh_token_ref) == ("", "")
    assert not LocalSecret.objects.filter(tenant=tenant, name__startswith="oauth-").exists()


@pytest.mark.django_db
def test_the_user_declining_at_the_provider_is_400_and_stores_nothing(tenant, api, oauth_server_for):
    server = oauth_server_for("outlook")
    server.deny_next()
    integration = _integration(tenant, "calendars", "outlook")

    response = Client().get(_authorize(_start(api, integration).json()["authorization_url"]))

    assert response.status_code == 400
    assert response.json()["code"] == "oauth_authorization_denied"
    assert "access_denied" in response.json()["detail"]
    assert server.token_requests == []
    assert not LocalSecret.objects.filter(tenant=tenant, name__startswith="oauth-").exists()


@pytest.mark.django_db
def test_a_wrong_client_secret_is_502_naming_the_client_failure(tenant, api, oauth_server_for):
    oauth_server_for("xero")
    integration = _integration(tenant, "accounting", "xero", client_secret="not-the-registered-secret")

    response = Client().get(_authorize(_start(api, integration).json()["authorization_url"]))

    assert response.status_code == 502
    assert response.json()["code"] == "oauth_code_rejected"
    assert "invalid_client" in response.json()["detail"]


@pytest.mark.django_db
def test_a_token_endpoint_outage_is_502_provider_unavailable(tenant, api, oauth_server_for):
    server = oauth_server_for("google")
    integration = _integration(tenant)
    callback = _authorize(_start(api, integration).json()["authorization_url"])
    server.fail_next(1, status=503)

    response = Client().get(callback)

    assert response.status_code == 502
    assert response.json()["code"] == "oauth_provider_unavailable"


@pytest.mark.django_db
def test_redirect_uri_must_be_on_the_allowlist(tenant, api, oauth_server_for, settings):
    oauth_server_for("google")
    settings.OAUTH_REDIRECT_ALLOWED_ORIGINS = ["https://app.example.org"]
    integration = _integration(tenant)

    refused = _start(api, integration, redirect_uri="https://evil.example.net/callback")
    allowed = _start(api, integration, redirect_uri="https://app.example.org/oauth/done")

    assert refused.status_code == 400
    assert refused.json()["errors"] == {"redirect_uri": ["origin not allowed"]}
    assert allowed.status_code == 200
    assert parse_qs(urlsplit(allowed.json()["authorization_url"]).query)["redirect_uri"] == \
        ["https://app.example.org/oauth/done"]


@pytest.mark.django_db
def test_start_refuses_what_cannot_be_connected(tenant, api, oauth_server_for):
    oauth_server_for("google")
    ical = _integration(tenant, "calendars", "ical")
    decommissioned = _integration(tenant, status=Status.DECOMMISSIONED)
    without_client = _integration(tenant, client_id="")

    assert _start(api, ical).json()["code"] == "oauth_not_supported"
    assert _start(api, ical).status_code == 400
    assert _start(api, decommissioned).status_code == 409
    response = _start(api, without_client)
    assert response.status_code == 400
    assert response.json()["errors"] == {"oauth_client_id": ["required to connect through OAuth"]}
    assert _start(api, _integration(tenant), unknown="x").status_code == 400


@pytest.mark.django_db
def test_another_tenant_cannot_start_a_flow_on_this_integration(tenant, other_api, oauth_server_for):
    oauth_server_for("google")
    integration = _integration(tenant)

    response = _start(other_api, integration)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_an_unauthenticated_start_is_401(tenant, oauth_server_for):
    integration = _integration(tenant)

    response = Client().post(f"/api/v1/integrations/calendars/{integration.pk}/oauth/start/")

    assert response.status_code == 401


# token lifecycle ------------------------------------------------------------------------------


def _connected(tenant, api, oauth_server_for, provider="google", family="calendars", **options):
    server = oauth_server_for(provider, **options)
    integration = _integration(tenant, family, provider)
    _connect(api, integration)
    integration.refresh_from_db()
    return server, integration


@pytest.mark.django_db
def test_a_valid_access_token_is_returned_without_calling_the_provider(tenant, api, oauth_server_for):
    server, integration = _connected(tenant, api, oauth_server_for)

    token = oauth_access_token(integration=integration)

    assert server.access_token_is_live(token)
    assert len(server.token_requests) == 1  # the code exchange only


@pytest.mark.django_db
def test_an_expiring_token_is_refreshed_and_the_rotated_refresh_token_stored(tenant, api, oauth_server_for):
    # given a connection whose access token expires within the 60 s margin
    server, integration = _connected(tenant, api, oauth_server_for)
    first_refresh = secret_resolve(tenant=tenant, ref=integration.oauth_refresh_token_ref)
    Integration.objects.filter(pk=integration.pk).update(config_changed_at=timezone.now())
    type(integration).objects.filter(pk=integration.pk).update(
        oauth_token_expires_at=timezone.now() + timedelta(seconds=30))
    integration.refresh_from_db()
    changed_at = integration.config_changed_at

    # when a caller asks for a token
    token = oauth_access_token(integration=integration)

    # then a refresh ran, and the new access and refresh tokens are stored as new versions
    integration.refresh_from_db()
    assert [r["grant_type"] for r in server.token_requests] == ["authorization_code", "refresh_token"]
    assert server.access_token_is_live(token)
    assert integration.oauth_access_token_ref == f"local://oauth-{integration.pk}-access/2"
    assert integration.oauth_refresh_token_ref == f"local://oauth-{integration.pk}-refresh/2"
    rotated = secret_resolve(tenant=tenant, ref=integration.oauth_refresh_token_ref)
    assert server.live_refresh_tokens() == {rotated} and rotated != first_refresh
    assert secret_resolve(tenant=tenant, ref=integration.oauth_access_token_ref) == token
    assert integration.oauth_token_expires_at > timezone.now() + timedelta(minutes=59)
    assert integration.config_changed_at == changed_at  # a refresh is not a configuration change
    # and the next call uses the stored token again
    assert oauth_access_token(integration=integration) == token
    assert len(server.token_requests) == 2


@pytest.mark.django_db
def test_a_provider_that_keeps_the_refresh_token_keeps_the_stored_one(tenant, api, oauth_server_for):
    server, integration = _connected(tenant, api, oauth_server_for, rotate_refresh_tokens=False)
    refresh_ref = integration.oauth_refresh_token_ref

    oauth_force_refresh(integration=integration)

    integration.refresh_from_db()
    assert integration.oauth_refresh_token_ref == refresh_ref
    assert integration.oauth_access_token_ref.endswith("-access/2")


@pytest.mark.django_db
def test_force_refresh_after_a_401_returns_a_new_token(tenant, api, oauth_server_for):
    server, integration = _connected(tenant, api, oauth_server_for)
    old = oauth_access_token(integration=integration)
    server.expire_access_tokens()  # the provider says 401 although our clock says valid

    new = oauth_force_refresh(integration=integration)

    assert new != old and server.access_token_is_live(new)


@pytest.mark.django_db
def test_invalid_grant_moves_an_active_integration_to_error(tenant, api, oauth_server_for, caplog):
    # given an active connection whose grant the user revoked at the provider
    server, integration = _connected(tenant, api, oauth_server_for)
    Integration.objects.filter(pk=integration.pk).update(status=Status.ACTIVE)
    integration.refresh_from_db()
    server.revoke_all_grants()

    # when the token is refreshed
    with pytest.raises(ProviderAuthFailed) as raised:
        oauth_force_refresh(integration=integration)

    # then the integration is in error, recorded as the system's doing, with the reason
    assert raised.value.code == "reconnect_required"
    assert "invalid_grant" in raised.value.message
    integration.refresh_from_db()
    assert integration.status == Status.ERROR
    record = LifecycleTransition.objects.get(integration=integration)
    assert (record.action, record.from_status, record.to_status, record.actor) == ("fail", "active", "error",
                                                                                     "system")
    assert record.reason.startswith("OAuth refresh failed: ") and record.reason.endswith("reconnect required")


@pytest.mark.django_db
def test_an_expired_token_without_a_refresh_token_needs_a_reconnect(tenant, api, oauth_server_for):
    server, integration = _connected(tenant, api, oauth_server_for, "facebook", "social-media",
                                     issue_refresh_tokens=False)
    type(integration).objects.filter(pk=integration.pk).update(status=Status.ACTIVE,
                                                               oauth_token_expires_at=timezone.now())
    integration.refresh_from_db()

    with pytest.raises(ProviderAuthFailed, match="no refresh token"):
        oauth_access_token(integration=integration)

    integration.refresh_from_db()
    assert integration.status == Status.ERROR
    assert len(server.token_requests) == 1


@pytest.mark.django_db
def test_a_token_endpoint_outage_on_refresh_is_retryable_and_changes_nothing(tenant, api, oauth_server_for):
    server, integration = _connected(tenant, api, oauth_server_for)
    Integration.objects.filter(pk=integration.pk).update(status=Status.ACTIVE)
    server.go_down()

    with pytest.raises(ProviderUnavailable) as raised:
        oauth_force_refresh(integration=integration)

    assert raised.value.retryable is True
    integration.refresh_from_db()
    assert integration.status == Status.ACTIVE
    assert integration.oauth_access_token_ref.endswith("-access/1")


@pytest.mark.django_db
def test_a_never_connected_integration_has_no_token(tenant):
    integration = _integration(tenant)

    with pytest.raises(ProviderAuthFailed, match="not connected"):
        oauth_access_token(integration=integration)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(tenant, api, oauth_server_for):
    # given an expired token and a provider that rotates (a second refresh would get invalid_grant)
    server, integration = _connected(tenant, api, oauth_server_for)
    type(integration).objects.filter(pk=integration.pk).update(status=Status.ACTIVE,
                                                               oauth_token_expires_at=timezone.now())
    server.delay(0.3)  # keep the first refresh in flight while the second worker arrives
    results, errors = [], []

    def worker():
        from django.db import connection

        try:
            results.append(oauth_access_token(integration=Integration.objects.get(pk=integration.pk)))
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()

    # when two workers ask for a token at the same time
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one refreshed, the other waited for the row and used the new token
    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    assert [r["grant_type"] for r in server.token_requests] == ["authorization_code", "refresh_token"]
    integration.refresh_from_db()
    assert integration.status == Status.ACTIVE


@pytest.mark.django_db
def test_a_browser_finishing_an_api_started_flow_gets_a_small_connected_page(tenant, api, oauth_server_for):
    oauth_server_for("google")
    integration = _integration(tenant)
    integration.display_name = "<b>Club calendar</b>"
    integration.save()

    response = Client().get(_authorize(_start(api, integration).json()["authorization_url"]),
                            HTTP_ACCEPT="text/html,application/xhtml+xml")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "&lt;b&gt;Club calendar&lt;/b&gt; is connected to google" in page and "<b>Club" not in page
