from __future__ import annotations

from django.db import models

from .tenancy import TenantOwned


class IdempotencyRecord(TenantOwned):
    """The first response to a state-changing request made with an idempotency key."""

    scope = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    completed = models.BooleanField(default=False)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "scope", "key"], name="idempotency_key_uniq")]
