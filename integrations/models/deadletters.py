from __future__ import annotations

from django.db import models

from .base import Integration
from .tenancy import TenantOwned


class DeadLetter(TenantOwned):
    """An operation that failed for good after its retries; replayable by `operation` name."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        REPLAYED = "replayed", "Replayed"
        REPLAY_FAILED = "replay_failed", "Replay failed"
        DISCARDED = "discarded", "Discarded"

    integration = models.ForeignKey(Integration, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="dead_letters")
    operation = models.CharField(max_length=100, db_index=True)
    subject_id = models.CharField(max_length=64, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    error = models.TextField()
    error_code = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    replay_count = models.PositiveIntegerField(default=0)
    last_replayed_at = models.DateTimeField(null=True, blank=True)
    last_replayed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
