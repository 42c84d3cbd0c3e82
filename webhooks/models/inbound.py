"""Inbound webhooks: each provider event stored once, and the partner sources that post them."""
from __future__ import annotations

from django.db import models

from integrations.models import Integration, Tenant, TenantOwned


class InboundEvent(TenantOwned):
    """One provider event, stored once per (provider, config, provider event id) before the
    provider is answered, then handled after commit. Handlers only move state forward."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"  # stored, waiting for (another) handling attempt
        HANDLED = "handled", "Handled"
        IGNORED = "ignored", "Ignored"  # an echo of our own write, or no handler wants it
        FAILED = "failed", "Failed"  # the handlers kept failing; a dead letter holds it

    # Every index is paid on the webhook hot path, so there are few: the primary key, the
    # dedupe constraint (which also serves the integration FK), (tenant, created_at) for the
    # API's cursor pages, and partial ones (replay tokens; events still waiting for handling).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="inbound_events",
                                    db_index=False)
    provider = models.CharField(max_length=40)
    external_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=40)
    vendor_type = models.CharField(max_length=100)
    subject_id = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    # When a handling attempt is due again; null until the first attempt fails.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of a one-time signature nonce, for schemes whose signature does not cover the
    # body (Mailgun's token): stored once per config, so a captured signature carried over to
    # forged event data is never stored. Null for every other scheme.
    replay_token = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "provider", "external_id"], name="inbound_event_once"),
            models.UniqueConstraint(fields=["integration", "replay_token"], name="inbound_event_token_once",
                                    condition=models.Q(replay_token__isnull=False)),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="inbound_event_tenant_idx"),
            models.Index(fields=["next_attempt_at"], name="inbound_event_due_idx",
                         condition=models.Q(status="received")),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.vendor_type} {self.external_id}"


class WebhookSource(Integration):
    """A config whose only job is to receive one partner's signed webhooks: Ziggy access
    control, Standard Webhooks partners, or any provider the tenant only hears from.

    Its credential fields carry the generic names that `webhooks.receivers.SECRET_FIELDS`
    falls back to, so any registered provider scheme can be received through one."""

    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)
    webhook_public_key_ref = models.CharField(max_length=512, blank=True)
    webhook_verify_token_ref = models.CharField(max_length=512, blank=True)
    webhook_url_token_ref = models.CharField(max_length=512, blank=True)
    # Addresses or CIDR ranges the provider posts from (46elks); empty means any address.
    webhook_allowed_networks = models.JSONField(default=list, blank=True)

    receives_webhooks = True  # read by integrations.selectors.integration_webhook_url

    class Meta:
        verbose_name = "webhook source"
