"""Courts, the devices mounted on them, and the MQTT idempotency ledger."""
from __future__ import annotations

from django.db import models

from integrations.models import TenantOwned


class Court(TenantOwned):
    """A bookable court. `code` is the id devices put in their topics (`court/<code>/checkin`)."""

    code = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    ziggy_court_id = models.CharField(max_length=100, blank=True,
                                      help_text="The court's id in Ziggy, sent with check-ins.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="iot_court_tenant_code_uniq")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class DeviceKind(models.TextChoices):
    RFID_READER = "rfid_reader", "RFID reader"
    HIGHLIGHT_BUTTON = "highlight_button", "Highlight button"
    TABLET = "tablet", "Tablet"
    CHECKIN_TERMINAL = "checkin_terminal", "Check-in terminal"


class DeviceStatus(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"


class Device(TenantOwned):
    """A court device known by the id it uses in MQTT topics (`rfid/<external_id>/scan`)."""

    kind = models.CharField(max_length=20, choices=DeviceKind.choices)
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    court = models.ForeignKey(Court, on_delete=models.SET_NULL, null=True, blank=True, related_name="devices")
    status = models.CharField(max_length=8, choices=DeviceStatus.choices, default=DeviceStatus.OFFLINE,
                              db_index=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # 0-100; heartbeats outside that range are clamped when they are read, not refused.
    battery_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    firmware_version = models.CharField(max_length=64, blank=True)
    # An RFID reader shows "denied" by itself when no answer arrives within this time, so every
    # provider call made on its behalf is bounded by it.
    response_timeout_ms = models.PositiveIntegerField(default=3000)

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="iot_device_tenant_external_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.external_id}"


class ProcessedMqttMessage(TenantOwned):
    """One handled MQTT message, recorded in the same transaction as its effects, so a QoS 1
    redelivery (same device, same message id) is recognised and changes nothing twice."""

    device_external_id = models.CharField(max_length=100)
    message_id = models.CharField(max_length=100)
    topic = models.CharField(max_length=300)
    outcome = models.CharField(max_length=40)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "device_external_id", "message_id"],
                                    name="iot_processed_message_uniq"),
        ]
