"""Outbound webhooks: tenant endpoints, one delivery row per (endpoint, event), every attempt."""
from __future__ import annotations

from django.db import models

from integrations.models import OutboxEvent, TenantOwned


class SigningScheme(models.TextChoices):
    V1 = "v1", "HMAC-SHA256 (v1)"
    V1A = "v1a", "Ed25519 (v1a)"


class WebhookEndpoint(TenantOwned):
    """A tenant's subscription: where to post which events, signed with which key."""

    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=500, blank=True)
    event_types = models.JSONField(default=list)  # catalogue names from integrations.events, or "*"
    enabled = models.BooleanField(default=True)
    signing_scheme = models.CharField(max_length=4, choices=SigningScheme.choices, default=SigningScheme.V1)
    # Versioned refs (local://<name>/<version>) so a rotation never changes what an old ref means.
    secret_ref = models.CharField(max_length=512)
    public_key = models.CharField(max_length=100, blank=True)  # v1a's whpk_ key: public by nature
    previous_secret_ref = models.CharField(max_length=512, blank=True)
    previous_public_key = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_second = models.PositiveIntegerField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "enabled"], name="webhook_endpoint_enabled_idx")]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TenantOwned):
    """One event for one endpoint. The row is the truth: the broker message only nudges it,
    and the beat task finds every delivery whose `next_attempt_at` has come."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # retries exhausted, endpoint gone or disabled, target refused

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=100)
    message_id = models.CharField(max_length=64)  # `webhook-id`: the outbox id, the same on every attempt
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.endpoint_id}"


class DeliveryAttempt(TenantOwned):
    """One HTTP attempt of a delivery, as the receiver answered it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=1024, blank=True)
    error = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at"]
