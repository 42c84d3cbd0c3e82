"""The Ziggy access-control config of a tenant (court check-in/check-out and consumption)."""
from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from integrations.models import Integration


class ZiggyIntegration(Integration):
    class Provider(models.TextChoices):
        ZIGGY = "ziggy", "Ziggy"

    api_key_ref = models.CharField(max_length=512, blank=True)
    webhook_signing_key_ref = models.CharField(max_length=512, blank=True)
    client_id = models.CharField(max_length=100, help_text="Sent as X-Client-Id on every call.")
    # Ziggy gives each club its own API host; PROVIDER_ZIGGY_BASE_URL overrides it.
    api_base_url = models.URLField(max_length=300, blank=True)
    timeout_seconds = models.FloatField(default=5.0, validators=[MinValueValidator(0.1), MaxValueValidator(30)])
