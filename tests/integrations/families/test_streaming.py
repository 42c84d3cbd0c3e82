"""Streaming end to end: YouTube and Twitch (OAuth or API key) and Mux Video (token id and secret),
through the API, against local sandboxes (Mux's published description checks every request)."""

import base64

import pytest

from integrations.models import StreamingIntegration
from tests.sandboxes.mux import DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET
from tests.sandboxes.twitch import DEFAULT_CLIENT_ID, DEFAULT_USER, DEFAULT_USER_TOKEN
from tests.sandboxes.youtube import DEFAULT_ACCESS_TOKEN, DEFAULT_API_KEY, DEFAULT_CHANNEL_ID

BASE = "/api/v1/integrations/streaming"


def _create(api, body: dict) -> dict:
    response = api.post(f"{BASE}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _mux(
    api,
    store_secret,
    secret_name: str = "mux-token-secret",
    secret: str = DEFAULT_TOKEN_SECRET,
    **overrides,
) -> dict:
    body = {
        "display_name": "Match streams",
        "provider": "mux",
        "rtmp_url": "rtmps://global-live.mux.com:443/app",
        "dvr_enabled": True,
        "auto_record": True,
        "api_key_ref": store_secret("mux-token-id", DEFAULT_TOKEN_ID),
        "api_secret_ref": store_secret(secret_name, secret),
        "stream_key_ref": store_secret("mux-stream-key", "f4b2c1d0-stream-key"),
    }
    return _create(api, body | overrides)


def _youtube_by_key(
    api, store_secret, key_name: str = "yt-key", key: str = DEFAULT_API_KEY, **overrides
) -> dict:
    body = {
        "display_name": "Federation TV",
        "provider": "youtube",
        "channel_id": DEFAULT_CHANNEL_ID,
        "rtmp_url": "rtmp://a.rtmp.youtube.com/live2",
        "api_key_ref": store_secret(key_name, key),
    }
    return _create(api, body | overrides)


def _youtube_by_oauth(api, store_secret, oauth_connect, **overrides) -> dict:
    body = {
        "display_name": "Federation TV",
        "provider": "youtube",
        "oauth_client_id": "987.apps.googleusercontent.com",
        "oauth_client_secret_ref": store_secret("yt-client-secret", "GOCSPX-yt"),
    }
    integration = _create(api, body | overrides)
    oauth_connect(integration["id"], DEFAULT_ACCESS_TOKEN)
    return integration


def _twitch(api, store_secret, oauth_connect, token: str = DEFAULT_USER_TOKEN, **overrides) -> dict:
    body = {
        "display_name": "Federation on Twitch",
        "provider": "twitch",
        "oauth_client_id": DEFAULT_CLIENT_ID,
        "oauth_client_secret_ref": store_secret("twitch-client-secret", "twitch-sandbox-secret"),
        "channel_id": DEFAULT_USER["id"],
        "chat_enabled": False,
    }
    integration = _create(api, body | overrides)
    oauth_connect(integration["id"], token)
    return integration


# --- create ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_mux_integration_is_created_in_draft_without_returning_refs(api, store_secret):
    integration = _mux(api, store_secret)

    assert integration["status"] == "draft"
    assert integration["credential_refs_set"] == ["api_key_ref", "api_secret_ref", "stream_key_ref"]
    assert not [name for name in integration if name.endswith("_ref")]
    assert (
        integration["rtmp_url"],
        integration["dvr_enabled"],
        integration["chat_enabled"],
        integration["auto_record"],
    ) == ("rtmps://global-live.mux.com:443/app", True, True, True)
    assert integration["webhook_url"].endswith(f"/webhooks/mux/{integration['id']}/")


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["youtube", "twitch"])
def test_oauth_providers_are_created_in_draft_without_a_webhook_url(api, store_secret, provider):
    integration = _create(
        api,
        {
            "display_name": "Channel",
            "provider": provider,
            "oauth_client_id": "client",
            "oauth_refresh_token_ref": store_secret("refresh", "1//refresh-token"),
        },
    )

    assert integration["status"] == "draft"
    assert integration["credential_refs_set"] == ["oauth_refresh_token_ref"]
    assert integration["webhook_url"] is None


BAD_INPUT = [
    ("mux", {"rtmp_url": "http://global-live.mux.com/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "https://global-live.mux.com/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "srt://global-live.mux.com:6001"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmp:///app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmp:global-live.mux.com/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmps://global live.mux.com/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmps://global-live.mux.com:99999/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmps://global-live.mux.com:0/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmps://user:streamkey@global-live.mux.com/app"}, "rtmp_url"),
    ("mux", {"rtmp_url": "rtmps://" + "a" * 500}, "rtmp_url"),
    ("mux", {"rtmp_url": 42}, "rtmp_url"),
    ("mux", {"stream_key_ref": "f4b2c1d0-inline-stream-key"}, "stream_key_ref"),
    ("mux", {"api_secret_ref": "local://never-stored"}, "api_secret_ref"),
    ("mux", {"dvr_enabled": "sometimes"}, "dvr_enabled"),
    ("mux", {"colour": "blue"}, "colour"),
    ("mux", {"capabilities": {"teleport": True}}, "capabilities"),
    ("youtube", {"channel_id": "@sandboxfed"}, "channel_id"),
    ("youtube", {"api_secret_ref": "local://mux-token-secret"}, "api_secret_ref"),
    ("twitch", {"channel_id": "sandboxfed"}, "channel_id"),
    ("twitch", {"quota_period": "fortnight"}, "quota_period"),
    ("vimeo", {}, "provider"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "provider, override, field",
    BAD_INPUT,
    ids=[f"{p}-{f}-{i}" for i, (p, _, f) in enumerate(BAD_INPUT)],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    api, store_secret, provider, override, field
):
    store_secret("mux-token-secret", DEFAULT_TOKEN_SECRET)
    body = {
        "display_name": "Streams",
        "provider": provider,
        "rtmp_url": "rtmps://global-live.mux.com:443/app",
    }

    response = api.post(f"{BASE}/", body | override, format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not StreamingIntegration.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "rtmp://a.rtmp.youtube.com/live2",
        "rtmps://global-live.mux.com:443/app",
        "RTMPS://live.twitch.tv/app",
        "rtmp://[2001:db8::1]:1935/live",
        "rtmp://10.0.0.5",
    ],
)
def test_rtmp_and_rtmps_urls_with_a_host_are_accepted(api, url):
    response = api.post(
        f"{BASE}/", {"display_name": "Encoder", "provider": "mux", "rtmp_url": url}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["rtmp_url"] == url


@pytest.mark.django_db
def test_a_patch_to_a_non_rtmp_url_is_refused_and_changes_nothing(api, store_secret):
    integration = _mux(api, store_secret)

    response = api.patch(
        f"{BASE}/{integration['id']}/", {"rtmp_url": "https://example.com/live"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"rtmp_url": ["must be an rtmp:// or rtmps:// URL"]}
    assert (
        StreamingIntegration.objects.get(pk=integration["id"]).rtmp_url
        == "rtmps://global-live.mux.com:443/app"
    )


# --- validation --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_mux_validation_lists_one_live_stream_with_basic_auth(api, store_secret, mux_sandbox):
    mux_sandbox.add_live_stream()
    integration = _mux(api, store_secret)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    assert run["message"] == "authenticated with Mux Video; the environment has live streams"
    [request] = mux_sandbox.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/video/v1/live-streams",
        {"limit": ["1"], "page": ["1"]},
    )
    credentials = base64.b64encode(f"{DEFAULT_TOKEN_ID}:{DEFAULT_TOKEN_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {credentials}"
    assert mux_sandbox.live_streams[0]["stream_key"] not in run["message"]


@pytest.mark.django_db
def test_mux_without_its_secret_ref_fails_before_calling(api, store_secret, mux_sandbox):
    integration = _create(
        api,
        {
            "display_name": "Streams",
            "provider": "mux",
            "api_key_ref": store_secret("mux-token-id", DEFAULT_TOKEN_ID),
        },
    )

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == "missing credential refs: api_secret_ref"
    assert mux_sandbox.request_count == 0


@pytest.mark.django_db
def test_youtube_validation_with_an_api_key_finds_the_channel(api, store_secret, youtube_sandbox):
    integration = _youtube_by_key(api, store_secret)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    assert run["message"] == f"found YouTube channel {DEFAULT_CHANNEL_ID}"
    [request] = youtube_sandbox.requests
    assert (request.path, request.query) == (
        "/youtube/v3/channels",
        {"part": ["id"], "id": [DEFAULT_CHANNEL_ID], "key": [DEFAULT_API_KEY]},
    )


@pytest.mark.django_db
def test_youtube_validation_with_oauth_finds_the_connected_channel(
    api, store_secret, oauth_connect, youtube_sandbox
):
    integration = _youtube_by_oauth(api, store_secret, oauth_connect)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    [request] = youtube_sandbox.requests
    assert request.query == {"part": ["id"], "mine": ["true"]}
    assert request.headers["authorization"] == f"Bearer {DEFAULT_ACCESS_TOKEN}"


@pytest.mark.django_db
def test_youtube_unknown_channel_fails(api, store_secret, youtube_sandbox):
    integration = _youtube_by_key(api, store_secret, channel_id="UC" + "x" * 22)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == f"YouTube answered: YouTube has no channel UC{'x' * 22}"


@pytest.mark.django_db
def test_youtube_api_key_without_a_channel_fails_before_calling(api, store_secret, youtube_sandbox):
    integration = _youtube_by_key(api, store_secret, channel_id="")

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == "an API key alone cannot tell whose channel it is: set channel_id"
    assert youtube_sandbox.request_count == 0


@pytest.mark.django_db
def test_twitch_validation_sends_client_id_and_finds_the_channel(
    api, store_secret, oauth_connect, twitch_sandbox
):
    integration = _twitch(api, store_secret, oauth_connect)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is True, run
    assert run["message"] == f"authenticated with Twitch; channel sandboxfed ({DEFAULT_USER['id']})"
    [request] = twitch_sandbox.requests
    assert (request.path, request.query) == ("/helix/users", {"id": [DEFAULT_USER["id"]]})
    assert (request.headers["client-id"], request.headers["authorization"]) == (
        DEFAULT_CLIENT_ID,
        f"Bearer {DEFAULT_USER_TOKEN}",
    )


@pytest.mark.django_db
def test_twitch_token_of_another_app_fails_with_twitchs_reason(
    api, store_secret, oauth_connect, twitch_sandbox
):
    integration = _twitch(api, store_secret, oauth_connect, oauth_client_id="someotherclientid")

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()

    assert run["passed"] is False
    assert "Client ID and OAuth token do not match" in run["message"]


# --- failures shared by every provider, lifecycle and usage --------------------------------------


@pytest.fixture(params=["youtube", "twitch", "mux"])
def streaming_case(request, api, store_secret, oauth_connect):
    """(good integration, its sandbox, an integration with a bad credential, the provider's refusal)."""
    if request.param == "youtube":
        return (
            _youtube_by_key(api, store_secret),
            request.getfixturevalue("youtube_sandbox"),
            _youtube_by_key(api, store_secret, key_name="yt-wrong-key", key="AIzaWrongKey"),
            "API key not valid. Please pass a valid API key.",
        )
    if request.param == "twitch":
        return (
            _twitch(api, store_secret, oauth_connect),
            request.getfixturevalue("twitch_sandbox"),
            _twitch(api, store_secret, oauth_connect, token="revokedtoken"),
            "Invalid OAuth token",
        )
    return (
        _mux(api, store_secret),
        request.getfixturevalue("mux_sandbox"),
        _mux(api, store_secret, secret_name="mux-wrong-secret", secret="not-the-secret"),
        "Unauthorized request",
    )


@pytest.mark.django_db
def test_validation_fails_with_the_providers_reason_on_a_bad_credential(api, streaming_case):
    _, _, bad, reason = streaming_case

    run = api.post(f"{BASE}/{bad['id']}/validate/").json()

    assert run["passed"] is False
    assert reason in run["message"]
    assert api.post(f"{BASE}/{bad['id']}/activate/").json()["code"] == "validation_required"


@pytest.mark.django_db
def test_validation_fails_when_the_provider_answers_503(api, streaming_case):
    integration, sandbox, _, _ = streaming_case
    sandbox.go_down(refuse_connections=False)

    run = api.post(f"{BASE}/{integration['id']}/validate/").json()
    usage = api.get(f"{BASE}/{integration['id']}/usage/").json()

    assert run["passed"] is False
    assert "answered 503" in run["message"]
    assert (usage["totals"]["requests"], usage["totals"]["errors"]) == (2, 2)  # one quick retry


@pytest.mark.django_db
def test_validated_integrations_go_through_the_lifecycle_and_count_usage(api, streaming_case):
    integration, _, _, _ = streaming_case

    assert api.post(f"{BASE}/{integration['id']}/validate/").json()["passed"] is True
    steps = [
        api.post(f"{BASE}/{integration['id']}/{action}/").json()["status"]
        for action in ("activate", "pause", "resume")
    ]
    illegal = api.post(f"{BASE}/{integration['id']}/activate/")
    decommissioned = api.post(f"{BASE}/{integration['id']}/decommission/").json()
    after = api.post(f"{BASE}/{integration['id']}/pause/")
    usage = api.get(f"{BASE}/{integration['id']}/usage/").json()

    assert steps == ["active", "paused", "active"]
    assert (illegal.status_code, illegal.json()["code"]) == (409, "invalid_transition")
    assert decommissioned["status"] == "decommissioned"
    assert (after.status_code, after.json()["allowed_actions"]) == (409, [])
    assert (usage["totals"]["requests"], usage["totals"]["errors"]) == (1, 0)
