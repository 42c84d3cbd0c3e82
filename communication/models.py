"""Messaging provider configs (on the shared integration base) and the messages they send."""
from __future__ import annotations

from django.db import models

from integrations.models import Integration, TenantOwned


class SendGridConfig(Integration):
    api_key_ref = models.CharField(max_length=512, blank=True)
    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)
    from_email = models.EmailField()
    from_name = models.CharField(max_length=200, blank=True)
    reply_to_email = models.EmailField(blank=True)
    enable_open_tracking = models.BooleanField(default=True)
    enable_click_tracking = models.BooleanField(default=True)
    enable_unsubscribe_tracking = models.BooleanField(default=False)
    ip_pool_name = models.CharField(max_length=64, blank=True)
    # `sandbox_mode` (on the base) is sent as SendGrid's mail_settings.sandbox_mode.


class MailgunConfig(Integration):
    class Region(models.TextChoices):
        EU = "eu", "EU"
        US = "us", "US"

    api_key_ref = models.CharField(max_length=512, blank=True)
    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)
    domain = models.CharField(max_length=253)
    region = models.CharField(max_length=2, choices=Region.choices, default=Region.EU)
    from_email = models.EmailField()
    from_name = models.CharField(max_length=200, blank=True)
    enable_tracking = models.BooleanField(default=True)
    enable_click_tracking = models.BooleanField(default=True)
    test_mode = models.BooleanField(default=False)


class ElksConfig(Integration):
    api_username_ref = models.CharField(max_length=512, blank=True)
    api_password_ref = models.CharField(max_length=512, blank=True)
    sender_id = models.CharField(max_length=16)
    default_country_code = models.CharField(max_length=5, default="+46")
    dlr_callback_url = models.URLField(max_length=500, blank=True)
    webhook_token_ref = models.CharField(max_length=512, blank=True)


class TwilioConfig(Integration):
    account_sid_ref = models.CharField(max_length=512, blank=True)
    auth_token_ref = models.CharField(max_length=512, blank=True)
    messaging_service_sid = models.CharField(max_length=34, blank=True)
    from_number = models.CharField(max_length=16, blank=True)
    status_callback_url = models.URLField(max_length=500, blank=True)
    supported_countries = models.JSONField(default=list, blank=True)


class FcmConfig(Integration):
    class Priority(models.TextChoices):
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    service_account_json_ref = models.CharField(max_length=512, blank=True)
    project_id = models.CharField(max_length=100)
    default_ttl_seconds = models.PositiveIntegerField(default=86400)
    default_priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.HIGH)


class WhatsAppConfig(Integration):
    access_token_ref = models.CharField(max_length=512, blank=True)
    webhook_verify_token_ref = models.CharField(max_length=512, blank=True)
    app_secret_ref = models.CharField(max_length=512, blank=True)
    phone_number_id = models.CharField(max_length=32)
    business_account_id = models.CharField(max_length=32, blank=True)
    display_phone_number = models.CharField(max_length=20, blank=True)
    business_name = models.CharField(max_length=200, blank=True)
    default_language_code = models.CharField(max_length=35, default="en_US")


class Notification(TenantOwned):
    """One fan-out request: many recipients over several channels."""

    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    channels = models.JSONField(default=list)
    templates = models.JSONField(default=dict)
    recipient_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="notification_idem_uniq")]


class OutboundMessage(TenantOwned):
    """What every message shares: the config that sends it, status, idempotency, attempts."""

    config = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    provider = models.CharField(max_length=20, blank=True, help_text="the provider that delivered it")
    notification = models.ForeignKey(Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, default="queued", db_index=True)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class EmailMessage(OutboundMessage):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DEFERRED = "deferred"
        DELIVERED = "delivered"
        OPENED = "opened"
        CLICKED = "clicked"
        BOUNCED = "bounced"
        DROPPED = "dropped"
        SPAM_REPORTED = "spam_reported"
        FAILED = "failed"

    to = models.JSONField(help_text='[{"email": ..., "name": ...}]')
    subject = models.CharField(max_length=998, blank=True)
    template_id = models.CharField(max_length=100, blank=True)
    template_data = models.JSONField(default=dict, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    open_count = models.PositiveIntegerField(default=0)
    click_count = models.PositiveIntegerField(default=0)
    bounce_count = models.PositiveIntegerField(default=0)
    first_opened_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)
    bounce_type = models.CharField(max_length=20, blank=True)
    unsubscribed = models.BooleanField(default=False)

    class Meta(OutboundMessage.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="email_idem_uniq")]


class SmsMessage(OutboundMessage):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound"
        INBOUND = "inbound"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        FAILED = "failed"
        RECEIVED = "received"

    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    from_number = models.CharField(max_length=16, blank=True)
    to = models.CharField(max_length=16)
    body = models.CharField(max_length=1600)
    encoding = models.CharField(max_length=5, default="GSM-7")
    segments = models.PositiveSmallIntegerField(default=1)
    cost_amount = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)

    class Meta(OutboundMessage.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="sms_idem_uniq")]


class PushNotification(OutboundMessage):
    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    class Platform(models.TextChoices):
        ANDROID = "android"
        IOS = "ios"
        WEB = "web"

    target_token = models.CharField(max_length=4096, blank=True)
    target_platform = models.CharField(max_length=8, choices=Platform.choices, blank=True)
    player_id = models.CharField(max_length=100, blank=True)
    topic = models.CharField(max_length=900, blank=True)
    title = models.CharField(max_length=200, blank=True)
    body = models.CharField(max_length=4000, blank=True)
    image_url = models.URLField(max_length=1000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    priority = models.CharField(max_length=8, blank=True)
    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    collapse_key = models.CharField(max_length=100, blank=True)
    badge_count = models.PositiveIntegerField(null=True, blank=True)
    sound = models.CharField(max_length=100, blank=True)
    click_action = models.CharField(max_length=500, blank=True)

    class Meta(OutboundMessage.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="push_idem_uniq")]


class WhatsAppMessage(OutboundMessage):
    class MessageType(models.TextChoices):
        TEMPLATE = "template"
        TEXT = "text"

    class Direction(models.TextChoices):
        OUTBOUND = "outbound"
        INBOUND = "inbound"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        RECEIVED = "received"

    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    to = models.CharField(max_length=16)
    from_number = models.CharField(max_length=16, blank=True)
    message_type = models.CharField(max_length=8, choices=MessageType.choices)
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=35, blank=True)
    template_parameters = models.JSONField(default=list, blank=True)
    body_text = models.CharField(max_length=4096, blank=True)
    media_url = models.URLField(max_length=1000, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta(OutboundMessage.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="whatsapp_idem_uniq")]


class DeliveryAttempt(TenantOwned):
    """One try to hand a message to one provider, whatever came of it."""

    class Kind(models.TextChoices):
        EMAIL = "email"
        SMS = "sms"
        PUSH = "push"
        WHATSAPP = "whatsapp"

    message_kind = models.CharField(max_length=8, choices=Kind.choices)
    message_id = models.UUIDField(db_index=True)
    config = models.ForeignKey(Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    provider = models.CharField(max_length=20)
    outcome = models.CharField(max_length=20)  # sent | retryable_error | permanent_error | circuit_open | skipped
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["message_kind", "message_id"])]
