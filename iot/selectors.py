"""Reads of court operations; each takes `tenant=` first. Another tenant's row is NotFound."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from integrations.errors import NotFound
from iot.models import AccessSession, ConsumptionRecord, Court, Device, HighlightClip, LiveStream, Member


def _get(queryset: QuerySet, *, pk, what: str):
    row = queryset.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


def member_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = Member.objects.filter(tenant=tenant)
    if "is_active" in filters:
        qs = qs.filter(is_active=filters["is_active"])
    if filters.get("search"):
        term = filters["search"]
        qs = qs.filter(Q(first_name__icontains=term) | Q(last_name__icontains=term) | Q(email__icontains=term)
                       | Q(external_id=term) | Q(rfid_card_id=term.upper()))
    return qs


def member_get(*, tenant, member_id) -> Member:
    return _get(Member.objects.filter(tenant=tenant), pk=member_id, what="member")


def court_list(*, tenant) -> QuerySet:
    return Court.objects.filter(tenant=tenant)


def court_get(*, tenant, court_id) -> Court:
    return _get(Court.objects.filter(tenant=tenant), pk=court_id, what="court")


def device_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = Device.objects.filter(tenant=tenant).select_related("court")
    for name in ("kind", "status"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("court"):
        qs = qs.filter(court_id=filters["court"])
    return qs


def device_get(*, tenant, device_id) -> Device:
    return _get(Device.objects.filter(tenant=tenant).select_related("court"), pk=device_id, what="device")


def session_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = AccessSession.objects.filter(tenant=tenant).select_related("member", "court")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("court"):
        qs = qs.filter(court_id=filters["court"])
    if filters.get("member"):
        qs = qs.filter(member_id=filters["member"])
    if filters.get("checked_in_after"):
        qs = qs.filter(checked_in_at__gte=filters["checked_in_after"])
    if filters.get("checked_in_before"):
        qs = qs.filter(checked_in_at__lt=filters["checked_in_before"])
    return qs


def session_get(*, tenant, session_id) -> AccessSession:
    return _get(AccessSession.objects.filter(tenant=tenant).select_related("member", "court"), pk=session_id,
                what="session")


def session_consumption(*, tenant, session: AccessSession) -> QuerySet:
    return ConsumptionRecord.objects.filter(tenant=tenant, session=session)


def clip_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = HighlightClip.objects.filter(tenant=tenant).select_related("live_stream")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("court"):
        qs = qs.filter(live_stream__court_id=filters["court"])
    if filters.get("session"):
        qs = qs.filter(session_id=filters["session"])
    return qs


def clip_get(*, tenant, clip_id) -> HighlightClip:
    return _get(HighlightClip.objects.filter(tenant=tenant).select_related("live_stream"), pk=clip_id, what="clip")


def live_stream_list(*, tenant, filters: dict | None = None) -> QuerySet:
    filters = filters or {}
    qs = LiveStream.objects.filter(tenant=tenant)
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("court"):
        qs = qs.filter(court_id=filters["court"])
    return qs


def live_stream_get(*, tenant, live_stream_id) -> LiveStream:
    return _get(LiveStream.objects.filter(tenant=tenant).select_related("integration"), pk=live_stream_id,
                what="live stream")
