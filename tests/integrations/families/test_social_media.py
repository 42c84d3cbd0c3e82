"""Social media end to end: Facebook Pages and Instagram (Meta Graph API) and X, through the
API, against local sandboxes playing each provider's documented behaviour."""

import pytest

from integrations.models import SocialMediaIntegration
from tests.sandboxes.meta_graph import (
    DEFAULT_IG_USER_ID,
    DEFAULT_PAGE_ID,
    DEFAULT_PAGE_TOKEN,
    GraphIdentity,
)
from tests.sandboxes.x import DEFAULT_APP_TOKEN, DEFAULT_USER, DEFAULT_USER_TOKEN

BASE = "/api/v1/integrations/social-media"


def _create(api, body: dict) -> dict:
    response = api.post(f"{BASE}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _facebook(api, store_secret, token: str = DEFAULT_PAGE_TOKEN, **overrides) -> dict:
    body = {
        "display_name": "Federation page",
        "provider": "facebook",
        "capabilities": {"publish": True, "analytics": True},
        "auto_publish_event_types": ["match.result", "news.published", "match.result"],
        "accounts": [
            {
                "account_id": DEFAULT_PAGE_ID,
                "name": "Sandbox Federation",
                "access_token_ref": store_secret("fb-page-token", token),
            }
        ],
    }
    return _create(api, body | overrides)


def _instagram(api, store_secret, account_id: str = DEFAULT_IG_USER_ID, **overrides) -> dict:
    body = {
        "display_name": "Federation Instagram",
        "provider": "instagram",
        "capabilities": {"publish": True},
        "accounts": [
            {
                "account_id": account_id,
                "name": "sandbox_federation",
                "access_token_ref": store_secret("ig-page-token", DEFAULT_PAGE_TOKEN),
            }
        ],
    }
    return _create(api, body | overrides)


def _x(api, store_secret, oauth_connect, token: str = DEFAULT_USER_TOKEN, **overrides) -> dict:
    body = {
        "display_name": "Federation on X",
        "provider": "x",
        "capabilities": {"publish": True},
        "oauth_client_id": "c2FuZGJveC1jbGllbnQ",
        "oauth_client_secret_ref": store_secret("x-client-secret", "sandbox-x-client-secret"),
        "accounts": [{"account_id": DEFAULT_USER["id"], "name": "@sandboxfed"}],
    }
    integration = _create(api, body | overrides)
    oauth_connect(integration["id"], token)
    return integration


# --- create ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_facebook_integration_is_created_in_draft_without_returning_refs(api, store_secret):
    integration = _facebook(
        api,
        store_secret,
        oauth_client_secret_ref=store_secret("fb-app-secret", "sandbox-app-secret"),
    )

    assert integration["status"] == "draft"
    assert integration["credential_refs_set"] == ["oauth_client_secret_ref"]
    assert not [name for name in integration if name.endswith("_ref")]
    assert integration["auto_publish_event_types"] == ["match.result", "news.published"]
    assert integration["capabilities"] == {"publish": True, "analytics": True}
    assert [account["account_id"] for account in integration["accounts"]] == [DEFAULT_PAGE_ID]


@pytest.mark.django_db
def test_account_token_refs_are_stored_but_never_returned(api, store_secret):
    integration = _facebook(api, store_secret)

    assert integration["accounts"] == [
        {"account_id": DEFAULT_PAGE_ID, "name": "Sandbox Federation"}
    ]
    stored = SocialMediaIntegration.objects.get(pk=integration["id"]).accounts
    assert stored == [
        {
            "account_id": DEFAULT_PAGE_ID,
            "name": "Sandbox Federation",
            "access_token_ref": "local://fb-page-token",
        }
    ]


def _valid_body(store_secret) -> dict:
    return {
        "display_name": "Page",
        "provider": "facebook",
        "capabilities": {"publish": True},
        "accounts": [
            {"account_id": DEFAULT_PAGE_ID, "access_token_ref": store_secret("t", "page-token")}
        ],
    }


BAD_INPUT = [
    ({"colour": "blue"}, "colour"),
    ({"provider": "myspace"}, "provider"),
    ({"oauth_client_secret_ref": "an-inline-app-secret"}, "oauth_client_secret_ref"),
    ({"capabilities": {"publish": True, "dm_blast": True}}, "capabilities"),
    ({"capabilities": {"publish": "yes please"}}, "capabilities"),
    ({"accounts": [{"name": "No id"}]}, "accounts"),
    ({"accounts": [{"account_id": "@sandboxfed"}]}, "accounts"),
    ({"accounts": [{"account_id": "1", "access_token_ref": "EAAGinlinePageToken"}]}, "accounts"),
    ({"accounts": [{"account_id": "1", "access_token_ref": "local://never-stored"}]}, "accounts"),
    ({"accounts": [{"account_id": "1", "followers": 10}]}, "accounts"),
    ({"accounts": [{"account_id": "1"}, {"account_id": "1"}]}, "accounts"),
    ({"accounts": [{"account_id": str(n)} for n in range(51)]}, "accounts"),
    ({"accounts": {"account_id": "1"}}, "accounts"),
    ({"accounts": ["1"]}, "accounts"),
    (
        {"auto_publish_event_types": ["match.result"], "capabilities": {"analytics": True}},
        "auto_publish_event_types",
    ),
    ({"auto_publish_event_types": "match.result"}, "auto_publish_event_types"),
    ({"oauth_access_token_ref": "local://t"}, "oauth_access_token_ref"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "override, field", BAD_INPUT, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD_INPUT)]
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api, store_secret, override, field
):
    response = api.post(f"{BASE}/", _valid_body(store_secret) | override, format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not SocialMediaIntegration.objects.exists()


@pytest.mark.django_db
def test_an_inline_account_token_is_refused_by_position_and_never_echoed(api, store_secret):
    body = _valid_body(store_secret) | {
        "accounts": [
            {"account_id": "1"},
            {"account_id": "2", "access_token_ref": "EAAGsecretValue"},
        ]
    }

    response = api.post(f"{BASE}/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]["accounts"]) == ["1"]
    assert "access_token_ref" in response.json()["errors"]["accounts"]["1"]
    assert "EAAGsecretValue" not in response.content.decode()


@pytest.mark.django_db
def test_fifty_accounts_are_accepted(api, store_secret):
    body = _valid_body(store_secret) | {"accounts": [{"account_id": str(n)} for n in range(1, 51)]}

    assert api.post(f"{BASE}/", body, format="json").status_code == 201


# --- validation --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_facebook_validates_the_page_token_with_appsecret_proof(
    api, store_secret, meta_graph_sandbox
):
    meta_graph_sandbox.app_secret = "sandbox-app-secret"
    integration = _facebook(
        api,
        store_secret,
        oauth_client_id="123456789012345",
        oauth_client_secret_ref=store_secret("fb-app-secret", "sandbox-app-secret"),
    )

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    assert (
        run["message"] == f"authenticated with Facebook as 'Sandbox Federation' ({DEFAULT_PAGE_ID})"
    )
    [request] = meta_graph_sandbox.requests
    assert (request.path, request.query["fields"]) == ("/v19.0/me", ["id,name"])
    assert request.headers["authorization"] == f"Bearer {DEFAULT_PAGE_TOKEN}"
    assert "access_token" not in request.query


@pytest.mark.django_db
def test_facebook_refuses_a_token_of_another_page(api, store_secret, meta_graph_sandbox):
    meta_graph_sandbox.add_token(
        "EAAGotherPageToken", GraphIdentity(id="999000111", name="Rival Club")
    )
    integration = _facebook(api, store_secret, token="EAAGotherPageToken")

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == (
        f"Facebook answered: the access token of account {DEFAULT_PAGE_ID} belongs to "
        "'Rival Club' (999000111); store that page's own token"
    )


@pytest.mark.django_db
def test_instagram_validates_the_ig_user_through_its_page_token(
    api, store_secret, meta_graph_sandbox
):
    integration = _instagram(api, store_secret)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    assert (
        run["message"]
        == f"authenticated with Instagram as @sandbox_federation ({DEFAULT_IG_USER_ID})"
    )
    [request] = meta_graph_sandbox.requests
    assert (request.path, request.query["fields"]) == (
        f"/v19.0/{DEFAULT_IG_USER_ID}",
        ["id,username"],
    )


@pytest.mark.django_db
def test_instagram_unknown_account_fails_with_graphs_reason(api, store_secret, meta_graph_sandbox):
    integration = _instagram(api, store_secret, account_id="17840000000000000")

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert "Object with ID '17840000000000000' does not exist" in run["message"]


@pytest.mark.django_db
def test_instagram_without_an_account_fails_before_calling(api, meta_graph_sandbox):
    integration = _create(api, {"display_name": "IG", "provider": "instagram"})

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert (
        run["message"] == "add the Instagram account to accounts (its IG user id) before validating"
    )
    assert meta_graph_sandbox.request_count == 0


@pytest.mark.django_db
def test_x_validates_the_oauth_user_token(api, store_secret, oauth_connect, x_sandbox):
    integration = _x(api, store_secret, oauth_connect)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    assert run["message"] == f"authenticated with X as @sandboxfed ({DEFAULT_USER['id']})"
    [request] = x_sandbox.requests
    assert (request.method, request.path) == ("GET", "/2/users/me")
    assert request.headers["authorization"] == f"Bearer {DEFAULT_USER_TOKEN}"


@pytest.mark.django_db
def test_x_refuses_an_app_only_token_with_xs_reason(api, store_secret, oauth_connect, x_sandbox):
    integration = _x(api, store_secret, oauth_connect, token=DEFAULT_APP_TOKEN)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert (
        "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint"
        in run["message"]
    )


@pytest.mark.django_db
def test_x_without_a_connection_fails_before_calling(api, store_secret, x_sandbox):
    integration = _create(
        api, {"display_name": "X", "provider": "x", "accounts": [{"account_id": "1"}]}
    )

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith(
        "missing credential: give the first account an access_token_ref"
    )
    assert x_sandbox.request_count == 0


# --- failures shared by every provider, lifecycle and usage --------------------------------------


@pytest.fixture(params=["facebook", "instagram", "x"])
def social_case(request, api, store_secret, oauth_connect):
    """(good integration, its sandbox, an integration with a bad token, the provider's refusal text)."""
    if request.param == "x":
        sandbox = request.getfixturevalue("x_sandbox")
        return (
            _x(api, store_secret, oauth_connect),
            sandbox,
            _x(api, store_secret, oauth_connect, token="revoked-user-token"),
            "Unauthorized",
        )
    sandbox = request.getfixturevalue("meta_graph_sandbox")
    make = _facebook if request.param == "facebook" else _instagram
    good = make(api, store_secret)
    account_id = DEFAULT_PAGE_ID if request.param == "facebook" else DEFAULT_IG_USER_ID
    bad = _create(
        api,
        {
            "display_name": "Expired",
            "provider": request.param,
            "accounts": [
                {
                    "account_id": account_id,
                    "access_token_ref": store_secret("expired-token", "EAAGexpired"),
                }
            ],
        },
    )
    return good, sandbox, bad, "Invalid OAuth access token - Cannot parse access token"


@pytest.mark.django_db
def test_validation_fails_with_the_providers_reason_on_a_bad_token(api, social_case):
    _, _, bad, reason = social_case

    run = api.post(f"{BASE}/{bad['id']}/validate/").json()

    assert run["passed"] is False
    assert reason in run["message"]
    assert "EAAGexpired" not in run["message"]
    assert api.post(f"{BASE}/{bad['id']}/activate/").json()["code"] == "validation_required"


@pytest.mark.django_db
def test_validation_fails_when_the_provider_is_down(api, social_case):
    integration, sandbox, _, _ = social_case
    sandbox.go_down()

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert "ConnectError" in run["message"]


@pytest.mark.django_db
def test_validated_integrations_go_through_the_lifecycle_and_count_usage(api, social_case):
    integration, _, _, _ = social_case

    assert api.post(f"{BASE}/{integration['id']}/validate/").json()["passed"] is True
    steps = [
        api.post(f"{BASE}/{integration['id']}/{action}/").json()["status"]
        for action in ("activate", "pause", "resume")
    ]
    illegal = api.post(f"{BASE}/{integration['id']}/activate/")
    decommissioned = api.post(f"{BASE}/{integration['id']}/decommission/").json()
    usage = api.get(f"{BASE}/{integration['id']}/usage/").json()

    assert steps == ["active", "paused", "active"]
    assert (illegal.status_code, illegal.json()["code"]) == (409, "invalid_transition")
    assert decommissioned["status"] == "decommissioned"
    assert (usage["totals"]["requests"], usage["totals"]["errors"]) == (1, 0)
