"""Reads of messages and their delivery attempts, always within one tenant."""

from __future__ import annotations

import json

from django.db import connection
from django.db.models import QuerySet

from communication.models import DeliveryAttempt, EmailMessage, SmsMessage
from integrations.errors import NotFound


def message_filters_apply(qs: QuerySet, filters: dict, *, exact: tuple[str, ...] = ()) -> QuerySet:
    """The filters every message list shares, plus the channel's own exact-match `exact` fields."""
    for name in exact:
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("provider"):
        qs = qs.filter(provider=filters["provider"])
    if filters.get("created_after"):
        qs = qs.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        qs = qs.filter(created_at__lt=filters["created_before"])
    return qs


def email_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = message_filters_apply(EmailMessage.objects.filter(tenant=tenant), filters)
    if filters.get("to"):
        # The address as a quoted JSON string matches a whole recipient, never a substring of
        # one, case-insensitively on every backend. PostgreSQL renders jsonb text unescaped;
        # elsewhere Django stores the JSON ASCII-escaped.
        quoted = json.dumps(filters["to"], ensure_ascii=connection.vendor != "postgresql")
        qs = qs.filter(to__icontains=quoted)
    return qs


def email_get(*, tenant, message_id) -> EmailMessage:
    message = EmailMessage.objects.filter(tenant=tenant, pk=message_id).first()
    if message is None:
        raise NotFound("email not found")
    return message


def sms_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = message_filters_apply(SmsMessage.objects.filter(tenant=tenant), filters)
    if filters.get("to"):
        qs = qs.filter(to=filters["to"])
    return qs


def sms_get(*, tenant, message_id) -> SmsMessage:
    message = SmsMessage.objects.filter(tenant=tenant, pk=message_id).first()
    if message is None:
        raise NotFound("SMS not found")
    return message


def delivery_attempt_list(*, tenant, message_kind: str, message_id) -> QuerySet:
    return DeliveryAttempt.objects.filter(
        tenant=tenant, message_kind=message_kind, message_id=message_id
    )
