"""Ziggy's webhooks mirrored into sessions and consumption; called by iot/handlers.py inside the
webhook framework's transaction. Only forward: a closed session stays closed, a consumption is
recorded once (by the event's id), and a check-in the hub made itself (its echo) finds the
session already there and changes nothing.

Ziggy's `user_id` is the member id the hub sent on check-in (the member's UUID); check-ins
made at Ziggy's own gates may carry the CRM id instead, so both are tried. A court is found by
its Ziggy court id, else its code. Events about members or courts the hub does not know are
logged and dropped: there is nothing here to mirror them into.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from integrations.events import event_emit
from iot.models import AccessSession, ConsumptionRecord, Court, Member, SessionStatus
from iot.services.access import session_close

logger = logging.getLogger(__name__)
# Ziggy may deliver a check-out or a consumption before the check-in it belongs to; such an
# event is retried (by raising) while it is this young, then dropped as belonging elsewhere.
OUT_OF_ORDER_GRACE_SECONDS = 600


class SessionNotYetKnown(Exception):
    pass


def _member(tenant_id, user_id: str) -> Member | None:
    match = Q(external_id=user_id)
    try:
        match |= Q(pk=uuid.UUID(user_id))
    except ValueError:
        pass
    return Member.objects.filter(Q(tenant_id=tenant_id) & match).first() if user_id else None


def _court(tenant_id, court_id: str) -> Court | None:
    if not court_id:
        return None
    return (Court.objects.filter(tenant_id=tenant_id, ziggy_court_id=court_id).first()
            or Court.objects.filter(tenant_id=tenant_id, code=court_id).first())


def _money(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _session_or_retry(tenant_id, external_session_id: str, occurred_at: datetime) -> AccessSession | None:
    session = (AccessSession.objects.select_for_update()
               .filter(tenant_id=tenant_id, external_session_id=external_session_id).first())
    if session is not None:
        return session
    if (timezone.now() - occurred_at).total_seconds() < OUT_OF_ORDER_GRACE_SECONDS:
        raise SessionNotYetKnown(f"Ziggy session {external_session_id} is not known yet")
    logger.info("Ziggy event for a session the hub never saw, dropped",
                extra={"tenant_id": str(tenant_id), "external_session_id": external_session_id})
    return None


def mirror_check_in(*, tenant_id, external_session_id: str, data: dict, occurred_at: datetime) -> None:
    if AccessSession.objects.filter(tenant_id=tenant_id, external_session_id=external_session_id).exists():
        return
    member = _member(tenant_id, str(data.get("user_id") or ""))
    court = _court(tenant_id, str(data.get("court_id") or ""))
    if member is None or court is None:
        logger.info("Ziggy check-in for an unknown member or court, dropped",
                    extra={"tenant_id": str(tenant_id), "member_known": member is not None,
                           "court_known": court is not None})
        return
    open_here = AccessSession.objects.select_for_update().filter(tenant_id=tenant_id, member=member, court=court,
                                                                  status=SessionStatus.ACTIVE).first()
    if open_here is not None:
        if not open_here.external_session_id:
            open_here.external_session_id = external_session_id
            open_here.save(update_fields=["external_session_id", "updated_at"])
        return
    checked_in_at = _time(data.get("checked_in_at")) or occurred_at
    session = AccessSession.objects.create(tenant_id=tenant_id, member=member, court=court,
                                           external_session_id=external_session_id, checked_in_at=checked_in_at)
    event_emit(tenant_id=tenant_id, event_type="member.checked_in", data={
        "session_id": str(session.pk), "external_session_id": external_session_id, "member_id": str(member.pk),
        "member_external_id": member.external_id, "court_id": str(court.pk), "court_code": court.code,
        "device_id": data.get("device_id"), "checked_in_at": checked_in_at.isoformat(), "source": "ziggy"})


def mirror_check_out(*, tenant_id, external_session_id: str, data: dict, occurred_at: datetime) -> None:
    session = _session_or_retry(tenant_id, external_session_id, occurred_at)
    if session is None:
        return
    session_close(session_id=session.pk, checked_out_at=_time(data.get("checked_out_at")) or occurred_at,
                  consumption_total=_money(data.get("consumption_total")), source="ziggy")


def mirror_consumption(*, tenant_id, event_id: str, external_session_id: str, data: dict,
                       occurred_at: datetime) -> None:
    if ConsumptionRecord.objects.filter(tenant_id=tenant_id, external_id=event_id[:100]).exists():
        return
    session = _session_or_retry(tenant_id, external_session_id, occurred_at)
    if session is None:
        return
    unit_price = _money(data.get("unit_price")) or Decimal("0.00")
    quantity = data.get("quantity") if isinstance(data.get("quantity"), int) and data["quantity"] > 0 else 1
    total = _money(data.get("total_price"))
    total = total if total is not None else unit_price * quantity
    ConsumptionRecord.objects.create(
        tenant_id=tenant_id, session=session, external_id=event_id[:100],
        description=str(data.get("item_name") or data.get("item_id") or "item")[:300], quantity=quantity,
        unit_price=unit_price, amount=total,
        currency=str(data.get("currency") or settings.IOT_CONSUMPTION_CURRENCY)[:3],
        recorded_at=_time(data.get("recorded_at")) or occurred_at)
    if session.status == SessionStatus.ACTIVE:
        # A closed session keeps the total Ziggy stated at check-out, which already counts this.
        AccessSession.objects.filter(pk=session.pk).update(consumption_total=F("consumption_total") + total,
                                                           updated_at=timezone.now())


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
