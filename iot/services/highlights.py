"""Court live streams and highlight clips.

A highlight button press on a court whose live stream is active asks for a clip of
IOT_HIGHLIGHT_DURATION_SECONDS (30) starting IOT_HIGHLIGHT_LEAD_SECONDS (10) before the press,
never before the stream went active. The clip row is written with the press (in the MQTT
message's transaction); the Mux call waits in a Celery task until the window has been recorded,
because a clip cannot end in the future. Mux then reports `video.asset.ready` for the clip
asset, which makes the clip ready and tells the tenant (`highlight.created`). A press with no
active stream is logged and recorded as handled, nothing else.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adapters.errors import ProviderError
from integrations.events import event_emit
from integrations.secrets.services import secret_store
from iot.models import (
    AccessSession,
    ClipStatus,
    Court,
    Device,
    HighlightClip,
    LiveStream,
    LiveStreamStatus,
    SessionStatus,
)
from iot.services import video
from iot.services.access import MessageKey
from iot.services.ledger import message_already_handled, message_claim

logger = logging.getLogger(__name__)
# Mux finishes writing a live recording's segments a little after real time.
RECORDING_SETTLE_SECONDS = 5.0
STUCK_AFTER = timedelta(minutes=5)


class RetryLater(Exception):
    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def clip_window(*, pressed_at: datetime, stream_started_at: datetime) -> tuple[datetime, datetime]:
    start = max(pressed_at - timedelta(seconds=settings.IOT_HIGHLIGHT_LEAD_SECONDS), stream_started_at)
    return start, start + timedelta(seconds=settings.IOT_HIGHLIGHT_DURATION_SECONDS)


def button_press(*, tenant_id, court: Court, device: Device | None, key: MessageKey, pressed_at: datetime) -> str:
    """Record a press as a requested clip, or as ignored without an active stream; the outcome."""
    if message_already_handled(tenant_id=tenant_id, device_key=key.device_key, message_id=key.message_id):
        return "duplicate"
    stream = (LiveStream.objects.filter(tenant_id=tenant_id, court=court, status=LiveStreamStatus.ACTIVE,
                                        started_at__isnull=False).exclude(active_asset_id="")
              .order_by("-started_at").first())
    outcome = "clip_requested" if stream else "ignored_no_stream"
    with transaction.atomic():
        if not message_claim(tenant_id=tenant_id, device_key=key.device_key, message_id=key.message_id,
                             topic=key.topic, outcome=outcome):
            return "duplicate"
        if stream is None:
            logger.info("highlight press ignored: no active live stream on the court",
                        extra={"tenant_id": str(tenant_id), "court": court.code})
            return outcome
        start, end = clip_window(pressed_at=pressed_at, stream_started_at=stream.started_at)
        session = (AccessSession.objects.filter(tenant_id=tenant_id, court=court, status=SessionStatus.ACTIVE)
                   .order_by("-checked_in_at").first())
        clip = HighlightClip.objects.create(
            tenant_id=tenant_id, live_stream=stream, session=session, device=device, pressed_at=pressed_at,
            window_start=start, window_end=end, source_asset_id=stream.active_asset_id,
            start_offset_seconds=(start - stream.started_at).total_seconds(),
            end_offset_seconds=(end - stream.started_at).total_seconds())
        transaction.on_commit(lambda: _enqueue_clip_request(clip.pk, end))
    return outcome


def _enqueue_clip_request(clip_id, window_end: datetime) -> None:
    from iot.tasks import highlight_clip_request

    wait = (window_end - timezone.now()).total_seconds() + RECORDING_SETTLE_SECONDS
    highlight_clip_request.apply_async(args=[str(clip_id)], countdown=max(0.0, wait))


def highlight_clip_request(*, clip_id, final_attempt: bool = False) -> HighlightClip | None:
    """Ask Mux for the clip of a requested highlight; RetryLater on a transient failure."""
    with transaction.atomic():
        clip = (HighlightClip.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=clip_id, status=ClipStatus.REQUESTED).select_related("live_stream").first())
        if clip is None:
            return None  # done already, or another worker holds it
        try:
            asset = video.create_clip(integration=clip.live_stream.integration, source_asset_id=clip.source_asset_id,
                                      start_seconds=clip.start_offset_seconds, end_seconds=clip.end_offset_seconds,
                                      passthrough=json.dumps({"clip_id": str(clip.pk)}))
        except ProviderError as exc:
            if exc.retryable and not final_attempt:
                raise RetryLater(exc) from None
            clip.status, clip.error_message = ClipStatus.FAILED, str(exc)[:500]
            clip.save(update_fields=["status", "error_message", "updated_at"])
            logger.warning("highlight clip failed at Mux", extra={"clip_id": str(clip.pk)})
            return clip
        clip.provider_asset_id, clip.status = asset.id, ClipStatus.PREPARING
        clip.save(update_fields=["provider_asset_id", "status", "updated_at"])
        if asset.status == "ready":
            _clip_ready(clip, asset.playback_id)
    return clip


def _clip_ready(clip: HighlightClip, playback_id: str) -> None:
    clip.status, clip.playback_id = ClipStatus.READY, playback_id or clip.playback_id
    clip.save(update_fields=["status", "playback_id", "updated_at"])
    live_stream = clip.live_stream
    event_emit(tenant_id=clip.tenant_id, event_type="highlight.created", data={
        "clip_id": str(clip.pk), "court_id": str(live_stream.court_id),
        "session_id": str(clip.session_id) if clip.session_id else None,
        "pressed_at": clip.pressed_at.isoformat(), "window_start": clip.window_start.isoformat(),
        "window_end": clip.window_end.isoformat(), "asset_id": clip.provider_asset_id,
        "playback_id": clip.playback_id,
        "playback_url": video.playback_url(clip.playback_id) if clip.playback_id else None})


def _clip_for_asset(tenant_id, asset_id: str, clip_id: str) -> HighlightClip | None:
    """The clip an asset event is about: by its asset id, or by the clip id we put in the
    asset's passthrough (the event can overtake the answer that told us the asset id)."""
    clips = (HighlightClip.objects.select_for_update(of=("self",)).select_related("live_stream")
             .filter(tenant_id=tenant_id))
    clip = clips.filter(provider_asset_id=asset_id).first()
    if clip is None and clip_id:
        try:
            clip = clips.filter(pk=uuid.UUID(clip_id), provider_asset_id__in=("", asset_id)).first()
        except ValueError:
            return None
        if clip is not None and not clip.provider_asset_id:
            clip.provider_asset_id = asset_id
            clip.save(update_fields=["provider_asset_id", "updated_at"])
    return clip


def clip_asset_ready(*, tenant_id, asset_id: str, playback_id: str, clip_id: str = "") -> None:
    clip = _clip_for_asset(tenant_id, asset_id, clip_id)
    if clip is not None and clip.status in (ClipStatus.REQUESTED, ClipStatus.PREPARING):
        _clip_ready(clip, playback_id)


def clip_asset_errored(*, tenant_id, asset_id: str, messages: list[str], clip_id: str = "") -> None:
    clip = _clip_for_asset(tenant_id, asset_id, clip_id)
    if clip is not None and clip.status in (ClipStatus.REQUESTED, ClipStatus.PREPARING):
        clip.status = ClipStatus.FAILED
        clip.error_message = "; ".join(messages)[:500] or "Mux could not create the clip"
        clip.save(update_fields=["status", "error_message", "updated_at"])


def live_stream_active(*, tenant_id, provider_stream_id: str, active_asset_id: str, occurred_at: datetime) -> None:
    stream = (LiveStream.objects.select_for_update()
              .filter(tenant_id=tenant_id, provider_stream_id=provider_stream_id).first())
    if stream is None or stream.status == LiveStreamStatus.DISABLED:
        return  # another application's stream in the same Mux environment, or one we completed
    latest = max(filter(None, (stream.started_at, stream.ended_at)), default=None)
    if latest is not None and occurred_at <= latest:
        return  # older than what we know: events arrive out of order
    stream.status, stream.started_at, stream.ended_at = LiveStreamStatus.ACTIVE, occurred_at, None
    stream.active_asset_id = active_asset_id or stream.active_asset_id
    stream.save(update_fields=["status", "started_at", "ended_at", "active_asset_id", "updated_at"])


def live_stream_idle(*, tenant_id, provider_stream_id: str, occurred_at: datetime) -> None:
    stream = (LiveStream.objects.select_for_update()
              .filter(tenant_id=tenant_id, provider_stream_id=provider_stream_id).first())
    if stream is None or stream.status != LiveStreamStatus.ACTIVE:
        return
    if stream.started_at and occurred_at <= stream.started_at:
        return
    stream.status, stream.ended_at = LiveStreamStatus.IDLE, occurred_at
    stream.save(update_fields=["status", "ended_at", "updated_at"])


def live_stream_start(*, tenant, court: Court, actor: str) -> tuple[LiveStream, str]:
    """Create the court's live stream at Mux; returns it and its stream key (shown once)."""
    integration = video.video_integration(tenant_id=tenant.pk)
    info = video.create_live_stream(integration=integration,
                                    passthrough=json.dumps({"court_id": str(court.pk), "court": court.code}))
    key_ref = secret_store(tenant=tenant, name=f"mux-stream-key-{uuid.uuid4().hex}", value=info.stream_key) \
        if info.stream_key else ""
    stream = LiveStream.objects.create(tenant=tenant, court=court, integration=integration,
                                       provider_stream_id=info.id, playback_id=info.playback_id,
                                       stream_key_ref=key_ref, active_asset_id=info.active_asset_id)
    logger.info("live stream created", extra={"live_stream_id": str(stream.pk), "court": court.code, "actor": actor})
    return stream, info.stream_key


def live_stream_complete(*, live_stream: LiveStream, actor: str) -> LiveStream:
    if live_stream.status != LiveStreamStatus.DISABLED:
        video.complete_live_stream(integration=live_stream.integration, live_stream_id=live_stream.provider_stream_id)
        LiveStream.objects.filter(pk=live_stream.pk).update(status=LiveStreamStatus.DISABLED, ended_at=timezone.now(),
                                                            updated_at=timezone.now())
        logger.info("live stream completed", extra={"live_stream_id": str(live_stream.pk), "actor": actor})
        live_stream.refresh_from_db()
    return live_stream


def highlight_clip_delete(*, clip: HighlightClip, actor: str) -> None:
    if clip.provider_asset_id:
        video.delete_asset(integration=clip.live_stream.integration, asset_id=clip.provider_asset_id)
    clip.delete()
    logger.info("highlight clip deleted", extra={"clip_id": str(clip.pk), "actor": actor})


def highlight_clips_reconcile(*, now: datetime | None = None) -> dict:
    """Re-enqueue requests whose task was lost; ask Mux about clips stuck preparing (a lost webhook)."""
    now = now or timezone.now()
    lost = list(HighlightClip.objects.filter(status=ClipStatus.REQUESTED,
                                             window_end__lt=now - timedelta(seconds=settings.STALE_QUEUED_SECONDS))
                .values_list("pk", "window_end")[:200])
    for clip_id, window_end in lost:
        _enqueue_clip_request(clip_id, window_end)
    polled = 0
    for clip in (HighlightClip.objects.filter(status=ClipStatus.PREPARING, updated_at__lt=now - STUCK_AFTER)
                 .select_related("live_stream")[:100]):
        try:
            asset = video.get_asset(integration=clip.live_stream.integration, asset_id=clip.provider_asset_id)
        except ProviderError as exc:
            logger.warning("could not look up a stuck clip at Mux", extra={"clip_id": str(clip.pk),
                                                                         "error": exc.__class__.__name__})
            continue
        polled += 1
        with transaction.atomic():
            if asset.status == "ready":
                clip_asset_ready(tenant_id=clip.tenant_id, asset_id=asset.id, playback_id=asset.playback_id)
            elif asset.status == "errored":
                clip_asset_errored(tenant_id=clip.tenant_id, asset_id=asset.id, messages=list(asset.error_messages))
    return {"requeued": len(lost), "polled": polled}
