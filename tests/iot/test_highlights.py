"""Court live streams and highlight clips against the Mux sandbox (every request checked
against Mux's published description): stream creation, going live by webhook, a press cut into
a 30 s clip starting 10 s before it, the clip's readiness by webhook, and deletion."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import OutboxEvent, StreamingIntegration
from iot.models import HighlightClip, LiveStream, ProcessedMqttMessage
from iot.services import telemetry_ingest
from iot.services.highlights import highlight_clips_reconcile
from tests.iot.conftest import post_webhook
from tests.sandboxes.mux import DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET
from tests.sandboxes.mux_video import finish_asset, go_live, signed_mux_webhook
from webhooks.models import InboundEvent, WebhookSource

pytestmark = pytest.mark.django_db
MUX_SIGNING = "mux-signing-secret-for-court-streams"


@pytest.fixture
def mux(court_world, mux_sandbox, store_secret):
    """The tenant's active Mux integration, and the webhook source Mux posts to."""
    integration = StreamingIntegration.objects.create(
        tenant=court_world.tenant, family="streaming", provider="mux", display_name="Mux", status="active",
        api_key_ref=store_secret("mux-token-id", DEFAULT_TOKEN_ID),
        api_secret_ref=store_secret("mux-token-secret", DEFAULT_TOKEN_SECRET))
    source = WebhookSource.objects.create(tenant=court_world.tenant, family="streaming", provider="mux",
                                          display_name="Mux webhooks", status="active",
                                          webhook_signing_key_ref=store_secret("mux-signing", MUX_SIGNING))
    return integration, source


def _start_stream(api, court) -> dict:
    response = api.post("/api/v1/iot/live-streams/", {"court": str(court.pk)}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _mux_event(client, capture, source, event_type: str, data: dict, occurred_at=None):
    body, headers = signed_mux_webhook(event_type, data, secret=MUX_SIGNING, occurred_at=occurred_at)
    response = post_webhook(client, capture, provider="mux", config=source, body=body, headers=headers)
    assert response.status_code == 200, response.content
    return InboundEvent.objects.get(external_id=json.loads(body)["id"])


def _live(client, capture, mux_sandbox, source, stream: dict, started_at) -> dict:
    recording = go_live(mux_sandbox, stream["provider_stream_id"])
    data = next(s for s in mux_sandbox.live_streams if s["id"] == stream["provider_stream_id"])
    _mux_event(client, capture, source, "video.live_stream.active", data, occurred_at=started_at)
    return recording


def _press(msg_id: str, pressed_at) -> str:
    return telemetry_ingest(topic="alpha/court/court-7/button/pressed",
                            payload=json.dumps({"msg_id": msg_id, "ts": pressed_at.isoformat()}).encode(),
                            received_at=pressed_at).outcome


def test_a_court_stream_is_created_at_mux_and_its_key_shown_once(api, court_world, mux, mux_sandbox):
    created = _start_stream(api, court_world.court)
    replayed = api.post("/api/v1/iot/live-streams/", {"court": str(court_world.court.pk)}, format="json",
                        HTTP_IDEMPOTENCY_KEY="stream-1")
    again = api.post("/api/v1/iot/live-streams/", {"court": str(court_world.court.pk)}, format="json",
                     HTTP_IDEMPOTENCY_KEY="stream-1")

    [mux_stream, _] = mux_sandbox.live_streams[::-1]
    stream = LiveStream.objects.get(pk=created["id"])
    assert created["stream_key"] == mux_stream["stream_key"]
    assert (stream.status, stream.provider_stream_id, stream.stream_key_ref.startswith("local://")) == (
        "idle", mux_stream["id"], True)
    assert created["playback_url"] == f"https://stream.mux.com/{mux_stream['playback_ids'][0]['id']}.m3u8"
    assert "stream_key" not in api.get(f"/api/v1/iot/live-streams/{created['id']}/").json()
    assert "stream_key" in replayed.json() and "stream_key" not in again.json()  # never stored for replays
    assert again.headers["Idempotent-Replayed"] == "true" and len(mux_sandbox.live_streams) == 2
    [create_request, _] = [r for r in mux_sandbox.requests if r.method == "POST"]
    assert create_request.parsed_body["new_asset_settings"] == {"playback_policy": ["public"]}


def test_a_press_is_cut_into_a_clip_from_ten_seconds_before_it_and_ready_by_webhook(
        api, client, court_world, mux, mux_sandbox, django_capture_on_commit_callbacks):
    _, source = mux
    stream = _start_stream(api, court_world.court)
    started_at = timezone.now() - timedelta(minutes=5)
    recording = _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream, started_at)
    pressed_at = started_at + timedelta(seconds=60)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = _press("press-1", pressed_at)

    clip = HighlightClip.objects.get()
    [clip_request] = [r for r in mux_sandbox.requests if r.path == "/video/v1/assets"]
    assert outcome == "clip_requested"
    assert (clip.window_start, clip.window_end) == (pressed_at - timedelta(seconds=10),
                                                    pressed_at + timedelta(seconds=20))
    assert clip_request.parsed_body["input"] == [{"url": f"mux://assets/{recording['id']}", "start_time": 50.0,
                                                  "end_time": 80.0}]
    assert (clip.status, clip.source_asset_id) == ("preparing", recording["id"])

    asset = finish_asset(mux_sandbox, clip.provider_asset_id)
    _mux_event(client, django_capture_on_commit_callbacks, source, "video.asset.ready", asset)

    clip.refresh_from_db()
    event = OutboxEvent.objects.get(event_type="highlight.created")
    assert (clip.status, clip.playback_id) == ("ready", asset["playback_ids"][0]["id"])
    assert event.data["playback_url"] == f"https://stream.mux.com/{clip.playback_id}.m3u8"
    assert api.get("/api/v1/iot/clips/").json()["results"][0]["status"] == "ready"


def test_a_press_just_after_the_stream_started_never_reaches_before_it(
        api, client, court_world, mux, mux_sandbox, django_capture_on_commit_callbacks):
    _, source = mux
    stream = _start_stream(api, court_world.court)
    started_at = timezone.now() - timedelta(minutes=1)
    _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream, started_at)

    with django_capture_on_commit_callbacks(execute=True):
        _press("press-1", started_at + timedelta(seconds=4))

    clip = HighlightClip.objects.get()
    assert (clip.window_start, clip.start_offset_seconds, clip.end_offset_seconds) == (started_at, 0.0, 30.0)


def test_a_press_without_an_active_stream_is_recorded_and_ignored(court_world, mux):
    outcome = _press("press-1", timezone.now())

    assert outcome == "ignored_no_stream"
    assert not HighlightClip.objects.exists()
    assert ProcessedMqttMessage.objects.get().outcome == "ignored_no_stream"
    assert _press("press-1", timezone.now()) == "duplicate"


def test_an_idle_stream_takes_no_presses_and_an_older_active_event_does_not_revive_it(
        api, client, court_world, mux, mux_sandbox, django_capture_on_commit_callbacks):
    _, source = mux
    stream = _start_stream(api, court_world.court)
    started_at = timezone.now() - timedelta(minutes=10)
    _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream, started_at)
    data = next(s for s in mux_sandbox.live_streams if s["id"] == stream["provider_stream_id"])
    _mux_event(client, django_capture_on_commit_callbacks, source, "video.live_stream.idle", data,
               occurred_at=started_at + timedelta(minutes=5))

    _mux_event(client, django_capture_on_commit_callbacks, source, "video.live_stream.active", data,
               occurred_at=started_at + timedelta(minutes=1))

    assert LiveStream.objects.get().status == "idle"
    assert _press("press-1", timezone.now()) == "ignored_no_stream"


def test_an_errored_clip_is_marked_failed(api, client, court_world, mux, mux_sandbox,
                                         django_capture_on_commit_callbacks):
    _, source = mux
    stream = _start_stream(api, court_world.court)
    _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream,
          timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        _press("press-1", timezone.now() - timedelta(minutes=2))
    clip = HighlightClip.objects.get()

    asset = finish_asset(mux_sandbox, clip.provider_asset_id, errored=True)
    _mux_event(client, django_capture_on_commit_callbacks, source, "video.asset.errored", asset)

    clip.refresh_from_db()
    assert (clip.status, clip.error_message) == ("failed", "The clip window is outside the recording")
    assert not OutboxEvent.objects.filter(event_type="highlight.created").exists()


def test_mux_down_when_the_clip_is_due_fails_the_clip_after_its_retries(
        api, client, court_world, mux, mux_sandbox, django_capture_on_commit_callbacks, settings):
    settings.TASK_MAX_RETRIES = 2
    _, source = mux
    stream = _start_stream(api, court_world.court)
    _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream,
          timezone.now() - timedelta(minutes=5))
    mux_sandbox.fail_next(20, status=503)

    with django_capture_on_commit_callbacks(execute=True):
        _press("press-1", timezone.now() - timedelta(minutes=2))

    clip = HighlightClip.objects.get()
    assert clip.status == "failed" and "503" in clip.error_message


def test_a_clip_whose_webhook_was_lost_is_found_ready_by_the_reconcile_sweep(
        api, client, court_world, mux, mux_sandbox, django_capture_on_commit_callbacks):
    _, source = mux
    stream = _start_stream(api, court_world.court)
    _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream,
          timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        _press("press-1", timezone.now() - timedelta(minutes=2))
    clip = HighlightClip.objects.get()
    finish_asset(mux_sandbox, clip.provider_asset_id)
    HighlightClip.objects.filter(pk=clip.pk).update(updated_at=timezone.now() - timedelta(minutes=10))

    assert highlight_clips_reconcile() == {"requeued": 0, "polled": 1}

    clip.refresh_from_db()
    assert clip.status == "ready"


def test_completing_a_stream_and_deleting_a_clip_go_through_mux(
        api, client, court_world, mux, mux_sandbox, django_capture_on_commit_callbacks):
    _, source = mux
    stream = _start_stream(api, court_world.court)
    _live(client, django_capture_on_commit_callbacks, mux_sandbox, source, stream,
          timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        _press("press-1", timezone.now() - timedelta(minutes=2))
    clip = HighlightClip.objects.get()

    completed = api.post(f"/api/v1/iot/live-streams/{stream['id']}/complete/", {}, format="json")
    deleted = api.delete(f"/api/v1/iot/clips/{clip.pk}/")

    assert (completed.status_code, completed.json()["status"]) == (200, "disabled")
    assert deleted.status_code == 204 and not HighlightClip.objects.exists()
    assert clip.provider_asset_id not in mux_sandbox.assets
    assert [r.method for r in mux_sandbox.requests if "complete" in r.path] == ["PUT"]


def test_a_live_stream_needs_an_active_mux_integration(api, court_world):
    response = api.post("/api/v1/iot/live-streams/", {"court": str(court_world.court.pk)}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "video_platform_not_configured")
