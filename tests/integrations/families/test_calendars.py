"""Calendars end to end: Google Calendar and Outlook (OAuth) and iCalendar feeds, through the
API, against local sandboxes (Google's and Microsoft Graph's published descriptions check
every request)."""

import pytest

from integrations.models import CalendarIntegration, ValidationRun
from tests.sandboxes.google_calendar import SandboxCalendar
from tests.sandboxes.ical import DEFAULT_FEED_PATH
from tests.sandboxes.msgraph import DEFAULT_USER

BASE = "/api/v1/integrations/calendars"
SYNC_STATE = {"last_synced_at": None, "sync_cursor": "", "last_sync_error": ""}


def _create(api, body: dict) -> dict:
    response = api.post(f"{BASE}/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _google(api, store_secret, **overrides) -> dict:
    body = {
        "display_name": "Federation office",
        "provider": "google",
        "calendar_id": "primary",
        "sync_direction": "bidirectional",
        "oauth_client_id": "1234.apps.googleusercontent.com",
        "oauth_client_secret_ref": store_secret("google-client-secret", "GOCSPX-sandbox-secret"),
        "event_type_filters": ["match", "training", "match"],
    }
    return _create(api, body | overrides)


def _outlook(api, store_secret, **overrides) -> dict:
    body = {
        "display_name": "Competitions",
        "provider": "outlook",
        "calendar_id": f"{DEFAULT_USER}/AAMkAGI2TGuLAAA=",
        "sync_direction": "push",
        "oauth_client_id": "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
        "oauth_client_secret_ref": store_secret("graph-client-secret", "graph~sandbox~secret"),
    }
    return _create(api, body | overrides)


def _ical(api, ical_sandbox, **overrides) -> dict:
    body = {
        "display_name": "Club fixtures",
        "provider": "ical",
        "ical_url": ical_sandbox.feed_url(),
    }
    return _create(api, body | overrides)


@pytest.fixture
def connected_google(api, store_secret, oauth_connect, google_calendar_sandbox):
    def make(**overrides) -> dict:
        calendar = _google(api, store_secret, **overrides)
        oauth_connect(calendar["id"], google_calendar_sandbox.access_token)
        return calendar

    return make


@pytest.fixture
def connected_outlook(api, store_secret, oauth_connect, msgraph_sandbox):
    def make(**overrides) -> dict:
        calendar = _outlook(api, store_secret, **overrides)
        oauth_connect(calendar["id"], msgraph_sandbox.access_token)
        return calendar

    return make


# --- create ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_google_calendar_is_created_in_draft_without_returning_refs(api, store_secret):
    calendar = _google(api, store_secret, api_key_ref=store_secret("google-key", "AIzaSandbox"))

    assert calendar["status"] == "draft"
    assert calendar["allowed_actions"] == ["activate", "decommission"]
    assert calendar["credential_refs_set"] == ["api_key_ref", "oauth_client_secret_ref"]
    assert not [name for name in calendar if name.endswith("_ref")]
    assert calendar["event_type_filters"] == ["match", "training"]
    assert {name: calendar[name] for name in SYNC_STATE} == SYNC_STATE
    assert calendar["webhook_url"] is None


@pytest.mark.django_db
def test_an_ical_feed_is_created_pull_only_with_no_credentials(api, ical_sandbox):
    calendar = _ical(api, ical_sandbox)

    assert (calendar["provider"], calendar["sync_direction"], calendar["status"]) == (
        "ical",
        "pull",
        "draft",
    )
    assert calendar["credential_refs_set"] == []
    assert calendar["ical_url"] == ical_sandbox.feed_url()


def _valid_body(provider: str, store_secret) -> dict:
    client_secret_ref = store_secret("client-secret", "sandbox-client-secret")
    if provider == "ical":
        return {
            "display_name": "Feed",
            "provider": "ical",
            "ical_url": "https://club.example/fixtures.ics",
        }
    calendar_id = "primary" if provider == "google" else DEFAULT_USER
    return {
        "display_name": "Cal",
        "provider": provider,
        "calendar_id": calendar_id,
        "oauth_client_secret_ref": client_secret_ref,
    }


BAD_INPUT = [
    ("google", {"colour": "blue"}, "colour"),
    ("google", {"oauth_client_secret_ref": "GOCSPX-an-inline-secret"}, "oauth_client_secret_ref"),
    ("google", {"api_key_ref": "local://never-stored"}, "api_key_ref"),
    ("google", {"calendar_id": ""}, "calendar_id"),
    ("google", {"calendar_id": "two words"}, "calendar_id"),
    ("google", {"ical_url": "https://club.example/fixtures.ics"}, "ical_url"),
    ("google", {"sync_direction": "sideways"}, "sync_direction"),
    ("google", {"event_type_filters": "match"}, "event_type_filters"),
    ("google", {"event_type_filters": ["x" * 65]}, "event_type_filters"),
    ("google", {"event_type_filters": [f"type{n}" for n in range(51)]}, "event_type_filters"),
    ("google", {"last_synced_at": "2025-01-01T00:00:00Z"}, "last_synced_at"),
    ("google", {"sync_cursor": "token"}, "sync_cursor"),
    ("google", {"last_sync_error": "none"}, "last_sync_error"),
    ("google", {"capabilities": {"teleport": True}}, "capabilities"),
    ("google", {"status": "active"}, "status"),
    ("outlook", {"calendar_id": "adele@federation.example/"}, "calendar_id"),
    ("outlook", {"calendar_id": "adele@federation.example/a/b"}, "calendar_id"),
    ("ical", {"sync_direction": "push"}, "sync_direction"),
    ("ical", {"sync_direction": "bidirectional"}, "sync_direction"),
    ("ical", {"ical_url": "ftp://club.example/fixtures.ics"}, "ical_url"),
    ("ical", {"ical_url": "webcal://club.example/fixtures.ics"}, "ical_url"),
    ("ical", {"ical_url": "https://"}, "ical_url"),
    ("ical", {"ical_url": "https://user:password@club.example/fixtures.ics"}, "ical_url"),
    ("ical", {"ical_url": ""}, "ical_url"),
    ("ical", {"calendar_id": "primary"}, "calendar_id"),
    ("ical", {"api_key_ref": "local://client-secret"}, "api_key_ref"),
    (None, {"provider": "caldav"}, "provider"),
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
    body = _valid_body(provider or "google", store_secret) | override

    response = api.post(f"{BASE}/", body, format="json")

    assert response.status_code == 400, response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not CalendarIntegration.objects.exists()


@pytest.mark.django_db
def test_an_inline_secret_is_never_echoed_back(api, store_secret):
    body = _valid_body("google", store_secret) | {
        "oauth_refresh_token_ref": "1//0gSandboxRefreshTokenValue"
    }

    response = api.post(f"{BASE}/", body, format="json")

    assert response.status_code == 400
    assert "1//0gSandboxRefreshTokenValue" not in response.content.decode()


@pytest.mark.django_db
def test_an_ical_feed_cannot_be_patched_to_push(api, ical_sandbox):
    calendar = _ical(api, ical_sandbox)

    response = api.patch(f"{BASE}/{calendar['id']}/", {"sync_direction": "push"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "sync_direction": ["an iCalendar feed is read-only: ical supports pull only"]
    }
    assert CalendarIntegration.objects.get(pk=calendar["id"]).sync_direction == "pull"


# --- validation --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_google_validation_lists_one_event_with_the_oauth_token(
    api, connected_google, google_calendar_sandbox
):
    calendar = connected_google()

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == "read calendar 'Federation office' on Google Calendar (access: owner)"
    [request] = google_calendar_sandbox.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/calendar/v3/calendars/primary/events",
        {"maxResults": ["1"]},
    )
    assert request.headers["authorization"] == f"Bearer {google_calendar_sandbox.access_token}"


@pytest.mark.django_db
def test_google_calendar_ids_are_sent_as_one_encoded_segment(
    api, connected_google, google_calendar_sandbox
):
    holidays = "en.swedish#holiday@group.v.calendar.google.com"
    google_calendar_sandbox.add_calendar(
        holidays, SandboxCalendar(summary="Holidays in Sweden", access_role="reader")
    )
    calendar = connected_google(calendar_id=holidays, sync_direction="pull")

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is True, run
    assert (
        google_calendar_sandbox.requests[0].path
        == "/calendar/v3/calendars/en.swedish%23holiday%40group.v.calendar.google.com/events"
    )


@pytest.mark.django_db
def test_google_push_to_a_read_only_calendar_fails_validation(
    api, connected_google, google_calendar_sandbox
):
    google_calendar_sandbox.add_calendar(
        "team@group.calendar.google.com", SandboxCalendar(summary="Team", access_role="reader")
    )
    calendar = connected_google(calendar_id="team@group.calendar.google.com", sync_direction="push")

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert "calendar 'Team' is readable but not writable (accessRole=reader)" in run["message"]
    assert api.post(f"{BASE}/{calendar['id']}/activate/").json()["code"] == "validation_required"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "direction, passed, message",
    [
        ("pull", True, "read calendar 'Public fixtures' on Google Calendar (access: reader)"),
        (
            "push",
            False,
            "Google Calendar answered: calendar 'Public fixtures' is readable but not "
            "writable (accessRole=reader); pushing events needs writer or owner: an API "
            "key reads public calendars only",
        ),
    ],
)
def test_google_with_an_api_key_reads_but_never_pushes(
    api, store_secret, google_calendar_sandbox, direction, passed, message
):
    public = "fixtures@group.calendar.google.com"
    google_calendar_sandbox.add_calendar(
        public, SandboxCalendar(summary="Public fixtures", public=True)
    )
    key_ref = store_secret("google-key", google_calendar_sandbox.api_key)
    body = {"display_name": "Fixtures", "provider": "google", "sync_direction": direction}
    calendar = _create(api, body | {"calendar_id": public, "api_key_ref": key_ref})

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert (run["passed"], run["message"]) == (passed, message)
    [request] = google_calendar_sandbox.requests
    assert request.query["key"] == [google_calendar_sandbox.api_key]
    assert "authorization" not in request.headers


@pytest.mark.django_db
def test_google_without_any_credential_fails_before_calling(api, google_calendar_sandbox):
    calendar = _create(
        api, {"display_name": "Office", "provider": "google", "calendar_id": "primary"}
    )

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"].startswith("missing credential: connect a Google account with OAuth")
    assert google_calendar_sandbox.request_count == 0


@pytest.mark.django_db
def test_outlook_validation_lists_one_event_of_the_named_calendar(
    api, connected_outlook, msgraph_sandbox
):
    calendar = connected_outlook()

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is True, run
    assert (
        run["message"]
        == f"read calendar AAMkAGI2TGuLAAA= of {DEFAULT_USER} through Microsoft Graph"
    )
    [request] = msgraph_sandbox.requests
    assert (
        request.path
        == "/v1.0/users/adele.vance%40federation.example/calendars/AAMkAGI2TGuLAAA%3D/events"
    )
    assert request.query == {"$top": ["1"], "$select": ["id"]}


@pytest.mark.django_db
def test_outlook_with_only_a_user_reads_the_default_calendar(
    api, connected_outlook, msgraph_sandbox
):
    calendar = connected_outlook(calendar_id=DEFAULT_USER)

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == f"read the default calendar of {DEFAULT_USER} through Microsoft Graph"
    assert msgraph_sandbox.requests[0].path == "/v1.0/users/adele.vance%40federation.example/events"


@pytest.mark.django_db
def test_outlook_unknown_calendar_fails_with_graphs_reason(api, connected_outlook, msgraph_sandbox):
    calendar = connected_outlook(calendar_id=f"{DEFAULT_USER}/AAMkUnknown=")

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert "ErrorItemNotFound" in run["message"]


@pytest.mark.django_db
def test_ical_validation_reads_and_counts_the_feed(api, ical_sandbox):
    calendar = _ical(api, ical_sandbox)

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is True
    assert run["message"] == "read iCalendar feed 'Club fixtures and trainings': 2 event(s)"
    assert [(r.method, r.path) for r in ical_sandbox.requests] == [("GET", DEFAULT_FEED_PATH)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        (
            b"<!doctype html><html><body>Sign in</body></html>",
            "text/html",
            "the feed is not an iCalendar file: it does not start with BEGIN:VCALENDAR",
        ),
        (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\n",
            "text/calendar",
            "the feed is cut short: BEGIN:VCALENDAR has no END:VCALENDAR",
        ),
    ],
)
def test_ical_validation_refuses_what_is_not_a_calendar(
    api, ical_sandbox, body, content_type, expected
):
    url = ical_sandbox.publish("/feeds/broken.ics", body, content_type=content_type)
    calendar = _ical(api, ical_sandbox, ical_url=url)

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert run["message"] == f"iCalendar feed answered: {expected}"


@pytest.mark.django_db
def test_ical_a_moved_feed_names_its_new_address(api, ical_sandbox):
    url = ical_sandbox.publish(
        "/feeds/old.ics", b"", status=301, headers={"Location": "https://new.example/f.ics"}
    )
    calendar = _ical(api, ical_sandbox, ical_url=url)

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert "moved to https://new.example/f.ics; set ical_url to the new address" in run["message"]


@pytest.mark.django_db
def test_ical_a_secret_feed_path_stays_out_of_messages(api, ical_sandbox):
    secret_path = "/feeds/private-5f2c9a7e1b3d4c6a8e0f.ics"
    calendar = _ical(api, ical_sandbox, ical_url=ical_sandbox.feed_url(secret_path))

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert (
        run["message"] == "iCalendar feed answered: ical answered 404 to GET [REDACTED]: Not Found"
    )


@pytest.mark.django_db
def test_ical_feeds_on_private_addresses_are_not_fetched(api, ical_sandbox, monkeypatch):
    calendar = _ical(api, ical_sandbox)
    monkeypatch.delenv("PROVIDER_ICAL_ALLOW_PRIVATE_HOSTS")

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert "resolves to a non-public address" in run["message"]
    assert ical_sandbox.request_count == 0


# --- failures shared by every provider, lifecycle and usage --------------------------------------


@pytest.fixture(params=["google", "outlook", "ical"])
def calendar_case(request, api, store_secret, oauth_connect):
    """(integration, its sandbox, how to break its credential, the provider's refusal text)."""
    if request.param == "google":
        sandbox = request.getfixturevalue("google_calendar_sandbox")
        calendar = _google(api, store_secret)
        return (
            calendar,
            sandbox,
            lambda: oauth_connect(calendar["id"], "ya29.revoked"),
            "Invalid Credentials",
        )
    if request.param == "outlook":
        sandbox = request.getfixturevalue("msgraph_sandbox")
        calendar = _outlook(api, store_secret)
        return (
            calendar,
            sandbox,
            lambda: oauth_connect(calendar["id"], "eyJ.revoked.token"),
            "InvalidAuthenticationToken",
        )
    sandbox = request.getfixturevalue("ical_sandbox")
    calendar = _ical(
        api,
        ical_sandbox=sandbox,
        ical_url=sandbox.publish("/feeds/private.ics", "Forbidden", status=403),
    )
    return calendar, sandbox, lambda: None, "403"


def _connect(case, oauth_connect):
    calendar, sandbox, _, _ = case
    token = getattr(sandbox, "access_token", None)
    if token:
        oauth_connect(calendar["id"], token)


@pytest.mark.django_db
def test_validation_fails_with_the_providers_reason_on_a_bad_credential(api, calendar_case):
    calendar, _, break_credential, reason = calendar_case
    break_credential()

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert reason in run["message"]
    assert ValidationRun.objects.get(pk=run["id"]).passed is False
    assert api.post(f"{BASE}/{calendar['id']}/activate/").status_code == 409


@pytest.mark.django_db
def test_validation_fails_when_the_provider_is_down(api, calendar_case, oauth_connect):
    calendar, sandbox, _, _ = calendar_case
    _connect(calendar_case, oauth_connect)
    sandbox.go_down()

    run = api.post(f"{BASE}/{calendar['id']}/validate/").json()

    assert run["passed"] is False
    assert "ConnectError" in run["message"]
    usage = api.get(f"{BASE}/{calendar['id']}/usage/").json()
    assert (usage["totals"]["requests"], usage["totals"]["errors"]) == (2, 2)  # one quick retry


@pytest.mark.django_db
def test_validated_calendars_go_through_the_lifecycle_and_count_usage(
    api, calendar_case, oauth_connect
):
    calendar, sandbox, _, _ = calendar_case
    _connect(calendar_case, oauth_connect)
    if calendar["provider"] == "ical":
        calendar = _ical(api, sandbox)

    assert api.post(f"{BASE}/{calendar['id']}/validate/").json()["passed"] is True
    steps = [
        api.post(f"{BASE}/{calendar['id']}/{action}/").json()["status"]
        for action in ("activate", "pause", "resume")
    ]
    illegal = api.post(f"{BASE}/{calendar['id']}/resume/")
    decommissioned = api.post(f"{BASE}/{calendar['id']}/decommission/").json()
    usage = api.get(f"{BASE}/{calendar['id']}/usage/").json()

    assert steps == ["active", "paused", "active"]
    assert illegal.status_code == 409
    assert illegal.json()["code"] == "invalid_transition"
    assert decommissioned["status"] == "decommissioned"
    assert (usage["totals"]["requests"], usage["totals"]["errors"]) == (1, 0)
