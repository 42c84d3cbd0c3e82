"""Usage counting: every outbound provider call, per integration and day.

Writers upsert into one of USAGE_SHARDS rows chosen at random, so concurrent senders on one
integration rarely touch the same row and never wait on a single hot counter.
"""
from __future__ import annotations

import random
from datetime import date

from django.db import connection
from django.utils import timezone

from adapters.errors import ProviderAuthFailed, ProviderError
from adapters.resilience import CallContext
from integrations.models import USAGE_SHARDS, UsageDaily

_UPSERT = """
INSERT INTO {table} (tenant_id, integration_id, day, shard, requests, errors, latency_ms_total, quota_units)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (integration_id, day, shard) DO UPDATE SET
  requests = {table}.requests + EXCLUDED.requests,
  errors = {table}.errors + EXCLUDED.errors,
  latency_ms_total = {table}.latency_ms_total + EXCLUDED.latency_ms_total,
  quota_units = {table}.quota_units + EXCLUDED.quota_units
"""


def usage_record(*, tenant_id, integration_id, requests: int = 1, errors: int = 0, latency_ms: int = 0,
                 quota_units: int | None = None, day: date | None = None) -> None:
    day = day or timezone.now().date()
    units = requests if quota_units is None else quota_units
    sql = _UPSERT.format(table=connection.ops.quote_name(UsageDaily._meta.db_table))
    params = [_db_value("tenant", tenant_id), _db_value("integration", integration_id), day,
              random.randrange(USAGE_SHARDS), requests, errors, latency_ms, units]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _db_value(fk_name: str, value):
    """Raw SQL bypasses the ORM, so convert a UUID the way the FK's column stores it."""
    return UsageDaily._meta.get_field(fk_name).target_field.get_db_prep_value(value, connection)


class UsageObserver:
    """Counts each provider attempt against the integration, and tracks credential failures."""

    def __init__(self, integration) -> None:
        self.tenant_id = integration.tenant_id
        self.integration_id = integration.pk

    def on_attempt(self, ctx: CallContext, *, outcome: str, latency_seconds: float,
                   error: ProviderError | None) -> None:
        from integrations.services.lifecycle import (
            integration_record_credential_failure,
            integration_record_credential_success,
        )

        if outcome == "circuit_open":
            return  # no request reached the provider
        usage_record(tenant_id=self.tenant_id, integration_id=self.integration_id,
                     errors=0 if error is None else 1, latency_ms=int(latency_seconds * 1000))
        if isinstance(error, ProviderAuthFailed):
            integration_record_credential_failure(integration_id=self.integration_id, message=str(error))
        elif error is None:
            integration_record_credential_success(integration_id=self.integration_id)
