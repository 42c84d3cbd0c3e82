"""Check-in and check-out of members at courts, through the access-control port.

A check-in (an RFID scan or a court terminal) is decided locally first: unknown card, inactive
or expired membership, or no credits left is a denial without any provider call. Otherwise
Ziggy is asked (bounded by the reader's timeout), and only then, in one transaction: the
message is recorded in the ledger, the session is opened, a credit is taken by a conditional
UPDATE (still active, still valid, credits left: otherwise the whole transaction is undone, and
so is the check-in at Ziggy) and `member.checked_in` is written to the outbox. Every path
ends in an answer for the device, except a redelivered message, which is not answered twice.

Credits: a check-in the hub asked Ziggy for costs one credit. Ziggy answering "already checked
in" costs nothing when the hub already knows that session (a second scan, or a check-in at
Ziggy's own gate mirrored by its webhook); when the hub does not know it yet, the session is
the one a previous attempt of this very message opened before the process died, and is charged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from adapters.errors import CircuitOpen, ProviderError, ProviderRejected
from integrations.errors import ApplicationError
from integrations.events import event_emit
from iot.models import AccessSession, Court, Device, Member, SessionStatus
from iot.services import access_control
from iot.services.ledger import message_already_handled, message_claim

logger = logging.getLogger(__name__)

DENIALS = {
    "unknown_card": "Card not recognised",
    "unknown_member": "Member not recognised",
    "inactive": "Membership inactive",
    "expired": "Membership expired",
    "no_credits": "No credits left",
    "no_court": "Reader is not assigned to a court",
    "no_session": "No open check-in at this court",
    "not_configured": "Check-in is not available here",
    "unavailable": "Check-in unavailable, please try again",
    "timeout": "Check-in unavailable, please try again",
}


@dataclass(frozen=True)
class ReaderAnswer:
    status: str  # granted | denied
    message: str
    color: str  # green | red

    def payload(self) -> dict:
        return {"status": self.status, "message": self.message, "color": self.color}


def granted(message: str) -> ReaderAnswer:
    return ReaderAnswer(status="granted", message=message, color="green")


def denied(reason: str) -> ReaderAnswer:
    return ReaderAnswer(status="denied", message=DENIALS[reason], color="red")


@dataclass(frozen=True)
class MessageKey:
    """Where a device message goes in the idempotency ledger."""

    device_key: str
    message_id: str
    topic: str


@dataclass(frozen=True)
class AccessOutcome:
    outcome: str
    answer: ReaderAnswer | None  # None for a redelivered message: it was answered the first time
    session: AccessSession | None = None


DUPLICATE = AccessOutcome(outcome="duplicate", answer=None)


class _Duplicate(Exception):
    pass


def _already_handled(tenant_id, key: MessageKey | None) -> bool:
    return key is not None and message_already_handled(tenant_id=tenant_id, device_key=key.device_key,
                                                        message_id=key.message_id)


def _claim(tenant_id, key: MessageKey | None, outcome: str) -> None:
    if key is not None and not message_claim(tenant_id=tenant_id, device_key=key.device_key,
                                             message_id=key.message_id, topic=key.topic, outcome=outcome):
        raise _Duplicate


def _deny(tenant_id, key: MessageKey | None, reason: str) -> AccessOutcome:
    try:
        with transaction.atomic():
            _claim(tenant_id, key, f"denied_{reason}")
    except _Duplicate:
        return DUPLICATE
    return AccessOutcome(outcome=f"denied_{reason}", answer=denied(reason))


def find_member(*, tenant_id, card_id: str = "", external_id: str = "", on_court: Court | None = None) -> Member | None:
    """The member by card or CRM id; with `on_court`, `is_on_court` says whether they have an
    open session there (one query for both)."""
    members = Member.objects.filter(tenant_id=tenant_id)
    if on_court is not None:
        members = members.annotate(is_on_court=Exists(AccessSession.objects.filter(
            member=OuterRef("pk"), court=on_court, status=SessionStatus.ACTIVE)))
    if card_id:
        return members.filter(rfid_card_id=card_id).first()
    if external_id:
        return members.filter(external_id=external_id).first()
    return None


def _refusal(member: Member | None, *, today, unknown: str = "unknown_card") -> str | None:
    if member is None:
        return unknown
    if not member.is_active:
        return "inactive"
    if member.membership_valid_until and member.membership_valid_until < today:
        return "expired"
    if member.credits <= 0:
        return "no_credits"
    return None


def _remaining_budget(budget_seconds: float | None, received_at: datetime) -> float | None:
    if budget_seconds is None:
        return None
    return budget_seconds - (timezone.now() - received_at).total_seconds()


def member_check_in(*, tenant_id, court: Court | None, device: Device | None, key: MessageKey | None,
                    received_at: datetime, card_id: str = "", member_external_id: str = "",
                    budget_seconds: float | None = None, source: str = "rfid") -> AccessOutcome:
    """Decide and, when allowed, perform one check-in; see the module docstring."""
    if _already_handled(tenant_id, key):
        return DUPLICATE
    if court is None:
        return _deny(tenant_id, key, "no_court")
    today = timezone.localdate()
    member = find_member(tenant_id=tenant_id, card_id=card_id, external_id=member_external_id, on_court=court)
    refusal = _refusal(member, today=today, unknown="unknown_card" if card_id else "unknown_member")
    if refusal:
        return _deny(tenant_id, key, refusal)
    if member.is_on_court:
        try:
            with transaction.atomic():
                _claim(tenant_id, key, "already_checked_in")
        except _Duplicate:
            return DUPLICATE
        return AccessOutcome(outcome="already_checked_in", answer=granted(f"Welcome back, {member.first_name}!"))
    try:
        integration = access_control.access_integration(tenant_id=tenant_id)
    except access_control.AccessControlNotConfigured:
        return _deny(tenant_id, key, "not_configured")
    try:
        result = access_control.check_in(
            integration=integration, user_id=str(member.pk), court_id=court.ziggy_court_id or court.code,
            timestamp=received_at, device_id=device.external_id if device else "",
            budget_seconds=_remaining_budget(budget_seconds, received_at))
    except access_control.ReaderDeadlinePassed as exc:
        logger.warning("scan waited too long to ask access control", extra={"tenant_id": str(tenant_id),
                                                                            "reason": str(exc)})
        return _deny(tenant_id, key, "timeout")
    except ApplicationError as exc:  # the config cannot be used: a ref that does not resolve, no host
        logger.error("access-control config unusable", extra={"tenant_id": str(tenant_id), "reason": exc.detail})
        return _deny(tenant_id, key, "not_configured")
    except ProviderError as exc:
        logger.warning("access control refused or failed a check-in", extra={
            "tenant_id": str(tenant_id), "court": court.code, "error": exc.__class__.__name__,
            "circuit_open": isinstance(exc, CircuitOpen), "status_code": exc.status_code})
        return _deny(tenant_id, key, "unavailable")
    try:
        with transaction.atomic():
            _claim(tenant_id, key, "granted")
            session = _open_session(tenant_id=tenant_id, member=member, court=court, device=device,
                                    result=result, source=source, today=today)
    except _Duplicate:
        return DUPLICATE
    except _RefusedAfterCheckIn as refused:
        # The member spent their last credit or was deactivated while Ziggy answered.
        if not result.already_checked_in:
            _undo_check_in(integration, result.session_id)
        return _deny(tenant_id, key, refused.reason)
    return AccessOutcome(outcome="granted", answer=granted(f"Welcome, {member.first_name}!"), session=session)


class _RefusedAfterCheckIn(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _charge_credit(*, member: Member, today) -> None:
    """Take one credit if the member may still enter, in one conditional UPDATE (which also
    serialises concurrent check-ins of the same member); otherwise raise why not."""
    charged = (Member.objects.filter(pk=member.pk, is_active=True, credits__gt=0)
               .filter(Q(membership_valid_until__isnull=True) | Q(membership_valid_until__gte=today))
               .update(credits=F("credits") - 1, updated_at=timezone.now()))
    if not charged:
        raise _RefusedAfterCheckIn(_refusal(Member.objects.get(pk=member.pk), today=today) or "no_credits")


def _open_session(*, tenant_id, member: Member, court: Court, device: Device | None, result, source: str, today):
    session = (AccessSession.objects.select_for_update()
               .filter(tenant_id=tenant_id, external_session_id=result.session_id).first())
    created = session is None
    if created:
        session = AccessSession.objects.create(
            tenant_id=tenant_id, member=member, court=court, device=device,
            external_session_id=result.session_id, checked_in_at=result.checked_in_at)
    if created or not result.already_checked_in:
        _charge_credit(member=member, today=today)
        event_emit(tenant_id=tenant_id, event_type="member.checked_in", data={
            "session_id": str(session.pk), "external_session_id": session.external_session_id,
            "member_id": str(member.pk), "member_external_id": member.external_id,
            "court_id": str(court.pk), "court_code": court.code,
            "device_id": device.external_id if device else None,
            "checked_in_at": session.checked_in_at.isoformat(), "source": source})
    return session


def _undo_check_in(integration, session_id: str) -> None:
    try:
        access_control.check_out(integration=integration, session_id=session_id, timestamp=timezone.now())
    except ProviderError as exc:
        logger.error("a check-in refused after Ziggy accepted it could not be undone; Ziggy keeps session open",
                     extra={"external_session_id": session_id, "error": exc.__class__.__name__})


def member_check_out(*, tenant_id, court: Court, device: Device | None, key: MessageKey | None,
                     received_at: datetime, card_id: str = "", member_external_id: str = "",
                     budget_seconds: float | None = None, source: str = "terminal") -> AccessOutcome:
    if _already_handled(tenant_id, key):
        return DUPLICATE
    member = find_member(tenant_id=tenant_id, card_id=card_id, external_id=member_external_id)
    if member is None:
        return _deny(tenant_id, key, "unknown_card" if card_id else "unknown_member")
    session = AccessSession.objects.filter(tenant_id=tenant_id, member=member, court=court,
                                           status=SessionStatus.ACTIVE).first()
    if session is None:
        return _deny(tenant_id, key, "no_session")
    return session_check_out(session=session, key=key, timestamp=received_at,
                             budget_seconds=_remaining_budget(budget_seconds, received_at), source=source)


def session_check_out(*, session: AccessSession, timestamp: datetime, key: MessageKey | None = None,
                      budget_seconds: float | None = None, source: str = "api") -> AccessOutcome:
    """Close a session at Ziggy, then here. Ziggy answering that the session is closed or
    unknown closes it here too: there is nothing left to end on its side."""
    tenant_id = session.tenant_id
    checked_out_at, total = timestamp, None
    if session.external_session_id:
        try:
            integration = access_control.access_integration(tenant_id=tenant_id)
            result = access_control.check_out(integration=integration, session_id=session.external_session_id,
                                              timestamp=timestamp, budget_seconds=budget_seconds)
            checked_out_at, total = result.checked_out_at, result.consumption_total
        except (access_control.AccessControlNotConfigured, ApplicationError):
            return _deny(tenant_id, key, "not_configured")
        except access_control.ReaderDeadlinePassed:
            return _deny(tenant_id, key, "timeout")
        except ProviderRejected as exc:
            if exc.status_code not in (404, 409):
                return _deny(tenant_id, key, "unavailable")
            logger.info("Ziggy no longer has the session open; closing it here",
                        extra={"session_id": str(session.pk), "status_code": exc.status_code})
        except ProviderError:
            return _deny(tenant_id, key, "unavailable")
    try:
        with transaction.atomic():
            _claim(tenant_id, key, "checked_out")
            closed = session_close(session_id=session.pk, checked_out_at=checked_out_at, consumption_total=total,
                                   source=source)
    except _Duplicate:
        return DUPLICATE
    return AccessOutcome(outcome="checked_out", answer=granted(f"Goodbye, {session.member.first_name}!"),
                         session=closed)


def session_close(*, session_id, checked_out_at: datetime, consumption_total=None, source: str) -> AccessSession:
    """Close an open session (forward only: a closed one stays as it is) and tell the tenant."""
    session = (AccessSession.objects.select_for_update(of=("self",)).select_related("member", "court")
               .get(pk=session_id))
    if session.status != SessionStatus.ACTIVE:
        return session
    session.status, session.checked_out_at = SessionStatus.CLOSED, max(checked_out_at, session.checked_in_at)
    if consumption_total is not None:
        session.consumption_total = consumption_total
    session.save(update_fields=["status", "checked_out_at", "consumption_total", "updated_at"])
    event_emit(tenant_id=session.tenant_id, event_type="member.checked_out", data={
        "session_id": str(session.pk), "external_session_id": session.external_session_id,
        "member_id": str(session.member_id), "member_external_id": session.member.external_id,
        "court_id": str(session.court_id), "court_code": session.court.code,
        "checked_in_at": session.checked_in_at.isoformat(), "checked_out_at": session.checked_out_at.isoformat(),
        "consumption_total": str(session.consumption_total), "source": source})
    return session
