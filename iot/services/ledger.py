"""The idempotency ledger of MQTT event messages: (tenant, device, message id) recorded in the
transaction that applies the message's effects, so a QoS 1 redelivery finds it and does nothing.

`message_already_handled` is the cheap check made before any provider call; `message_claim`
is the authoritative one, inside the effects' transaction: an `INSERT … ON CONFLICT DO NOTHING
RETURNING` (PostgreSQL, SQLite >= 3.35) that tells a concurrent duplicate apart without an
error, so the caller simply rolls its transaction back.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from iot.models import ProcessedMqttMessage

_FIELDS = ("id", "tenant", "created_at", "updated_at", "device_external_id", "message_id", "topic", "outcome")


def message_already_handled(*, tenant_id, device_key: str, message_id: str) -> bool:
    return ProcessedMqttMessage.objects.filter(tenant_id=tenant_id, device_external_id=device_key,
                                               message_id=message_id).exists()


def message_claim(*, tenant_id, device_key: str, message_id: str, topic: str, outcome: str) -> bool:
    """Record the message as handled; False when it already was (the caller must roll back)."""
    meta = ProcessedMqttMessage._meta
    quote = connection.ops.quote_name
    now = timezone.now()
    values = {"id": uuid.uuid4(), "tenant": tenant_id, "created_at": now, "updated_at": now,
              "device_external_id": device_key, "message_id": message_id, "topic": topic[:300],
              "outcome": outcome[:40]}
    fields = [meta.get_field(name) for name in _FIELDS]
    columns = ", ".join(quote(field.column) for field in fields)
    conflict = ", ".join(quote(meta.get_field(name).column) for name in ("tenant", "device_external_id", "message_id"))
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
           f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(meta.pk.column)}")
    params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def processed_messages_purge(*, now: datetime | None = None) -> int:
    """Forget ids older than any redelivery can be (IOT_PROCESSED_MESSAGE_RETENTION_HOURS)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IOT_PROCESSED_MESSAGE_RETENTION_HOURS)
    deleted, _ = ProcessedMqttMessage.objects.filter(created_at__lt=cutoff).delete()
    return deleted
