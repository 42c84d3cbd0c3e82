from __future__ import annotations

from django.db import models

from .tenancy import TenantOwned


class OutboxEvent(TenantOwned):
    """An event the hub emits to its tenants, written in the same transaction as its cause.

    The webhooks app delivers these to the tenant's subscribed endpoints.
    """

    event_type = models.CharField(max_length=100, db_index=True)
    data = models.JSONField(default=dict)
    dispatched_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
