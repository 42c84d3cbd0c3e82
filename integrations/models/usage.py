from __future__ import annotations

from django.db import models

from .base import Integration
from .tenancy import Tenant

USAGE_SHARDS = 16  # concurrent senders spread their increments over this many rows per day


class UsageDaily(models.Model):
    """Per integration, day and shard: counts of provider calls. Readers sum the shards;
    writers upsert into a random shard so no hot row serialises them."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    shard = models.PositiveSmallIntegerField()
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    latency_ms_total = models.BigIntegerField(default=0)
    quota_units = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "day", "shard"], name="usage_daily_shard_uniq")]
        indexes = [models.Index(fields=["integration", "day"])]
