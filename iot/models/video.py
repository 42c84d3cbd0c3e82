"""Court live streams on the video platform and the highlight clips cut from them."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from integrations.models import StreamingIntegration, TenantOwned

from .access import AccessSession
from .devices import Court, Device


class LiveStreamStatus(models.TextChoices):
    IDLE = "idle", "Idle"
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Completed"


class LiveStream(TenantOwned):
    """A court's live stream on Mux. While active, Mux records it into `active_asset_id`, the
    asset highlight clips are cut from."""

    court = models.ForeignKey(Court, on_delete=models.PROTECT, related_name="live_streams")
    integration = models.ForeignKey(StreamingIntegration, on_delete=models.PROTECT, related_name="+")
    provider_stream_id = models.CharField(max_length=100, help_text="Mux live stream id.")
    playback_id = models.CharField(max_length=100, blank=True)
    stream_key_ref = models.CharField(max_length=512, blank=True,
                                      help_text="The RTMP stream key, kept in the secret store.")
    status = models.CharField(max_length=8, choices=LiveStreamStatus.choices, default=LiveStreamStatus.IDLE,
                              db_index=True)
    active_asset_id = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider_stream_id"], name="iot_livestream_provider_uniq"),
        ]
        indexes = [models.Index(fields=["tenant", "court", "status"])]


class ClipStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    PREPARING = "preparing", "Preparing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class HighlightClip(TenantOwned):
    """A highlight requested by a button press: a window of the live recording, as a Mux asset."""

    live_stream = models.ForeignKey(LiveStream, on_delete=models.PROTECT, related_name="clips")
    session = models.ForeignKey(AccessSession, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="clips")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    pressed_at = models.DateTimeField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    # Offsets into the recorded asset, which starts when the stream went active.
    start_offset_seconds = models.FloatField()
    end_offset_seconds = models.FloatField()
    source_asset_id = models.CharField(max_length=100)
    provider_asset_id = models.CharField(max_length=100, blank=True, help_text="The clip's Mux asset id.")
    playback_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=ClipStatus.choices, default=ClipStatus.REQUESTED,
                              db_index=True)
    error_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-pressed_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider_asset_id"], condition=~Q(provider_asset_id=""),
                                    name="iot_clip_provider_asset_uniq"),
        ]
