"""Inbound events: stored once in one round trip, then handled after commit with retries.

Storing is the hot path of the webhook view, so it is one `INSERT … ON CONFLICT DO NOTHING
RETURNING id` for the whole batch (PostgreSQL, and SQLite >= 3.35): the ids returned are the
events that are new, everything else was a duplicate delivery. Handling runs in Celery; the
row is the truth and the broker message only a nudge, so `inbound_events_dispatch_due`
(beat) finds events whose nudge was lost and retries that have come due.
"""
from __future__ import annotations

import hashlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from adapters.inbound import InboundEvent as ParsedEvent
from adapters.inbound import stable_event_id
from integrations.models import DeadLetter
from integrations.services.deadletters import dead_letter_create, register_replay
from webhooks.handlers import handlers_for, is_echo
from webhooks.models import InboundEvent
from webhooks.nudges import publish_handling
from webhooks.receivers import Receiver

logger = logging.getLogger(__name__)
HANDLE_OPERATION = "webhook.handle"
_DISPATCH_BATCH = 500


class HandlerFailed(Exception):
    """The handlers did not succeed on a replay; the event keeps its retry schedule."""


@dataclass(frozen=True)
class StoreResult:
    new_ids: list[uuid.UUID]
    duplicates: int


@lru_cache(maxsize=None)
def _insert_statement(vendor: str, rows: int) -> tuple[str, tuple]:
    meta = InboundEvent._meta
    quote = connection.ops.quote_name
    fields = tuple(meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # No conflict target: a clash with either unique constraint (the event id, or a replay
    # token already used) leaves that row out.
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)} "
           f"ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}")
    return sql, tuple((field.name, _adapter(field)) for field in fields)


_PLAIN_TYPES = frozenset({"CharField", "TextField", "PositiveIntegerField"})


def _adapter(field):
    """How a value reaches the driver: text and integers as they are, everything else (UUIDs,
    times, JSON) through the field, which knows the backend. Saves most of the per-field
    conversion calls on the hot path."""
    if field.get_internal_type() in _PLAIN_TYPES:
        return None
    return field.get_db_prep_save


def _fit(value: str | None, limit: int) -> str:
    return (value or "")[:limit]


def _external_id(event: ParsedEvent) -> str:
    # An id longer than the column is digested rather than cut, so two ids never collide.
    return event.external_id if len(event.external_id) <= 255 else stable_event_id(event.external_id)


def inbound_events_store(*, receiver: Receiver, events: list[ParsedEvent],
                         replay_token: str | None = None) -> StoreResult:
    """Insert each event once; new ones are queued for handling when the insert commits.

    `replay_token` (a single-event delivery's one-time signature nonce) is stored with the
    event; if the config has seen it before, nothing is stored."""
    unique: dict[str, ParsedEvent] = {}
    for event in events:
        unique.setdefault(_external_id(event), event)
    if not unique:
        return StoreResult(new_ids=[], duplicates=0)
    now = timezone.now()
    sql, fields = _insert_statement(connection.vendor, len(unique))
    params: list = []
    for external_id, event in unique.items():
        values = {
            "id": uuid.uuid4(), "tenant": receiver.tenant_id, "created_at": now, "updated_at": now,
            "integration": receiver.integration_id, "provider": receiver.provider, "external_id": external_id,
            "event_type": str(event.type), "vendor_type": _fit(event.vendor_type, 100),
            "subject_id": _fit(event.subject_id, 255), "occurred_at": event.occurred_at, "payload": event.raw,
            "details": event.details, "status": InboundEvent.Status.RECEIVED, "attempts": 0, "last_error": "",
            "handled_at": None, "next_attempt_at": None,
            "replay_token": hashlib.sha256(replay_token.encode()).hexdigest() if replay_token else None,
        }
        for name, adapt in fields:
            params.append(values[name] if adapt is None else adapt(values[name], connection))
    new_ids = [value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)) for (value,) in _execute(sql, params)]
    if new_ids:
        transaction.on_commit(lambda: _enqueue_handling(new_ids))
    return StoreResult(new_ids=new_ids, duplicates=len(events) - len(new_ids))


def _execute(sql: str, params: list) -> list[tuple]:
    """Run the insert. On PostgreSQL through a server-side-binding psycopg cursor on Django's
    own connection (same transaction): the parameters travel apart from the SQL and the
    statement is prepared once per connection, instead of having every value quoted into
    the text in Python on every request, which is what Django's cursor does."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall()


def _enqueue_handling(event_ids: list[uuid.UUID]) -> None:
    from webhooks.nudges import nudge_handling

    nudge_handling(event_ids)  # off the request path: the provider does not wait for the broker


def _retry_delay(attempts: int) -> timedelta:
    base = settings.WEBHOOK_HANDLER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def inbound_event_handle(*, event_id, dead_letter_on_failure: bool = True) -> InboundEvent | None:
    """Run the registered handlers for one received event, once, under a row lock.

    Echoes and events no handler wants are marked `ignored`. A handler that raises has its
    writes rolled back; the event is retried later, and after WEBHOOK_HANDLER_MAX_ATTEMPTS it
    is marked `failed` and dead-lettered."""
    with transaction.atomic():
        event = (InboundEvent.objects.select_for_update(skip_locked=True)
                 .filter(pk=event_id, status=InboundEvent.Status.RECEIVED).first())
        if event is None:
            return None  # handled already, or another worker holds it
        now = timezone.now()
        handlers = handlers_for(event.provider, event.event_type)
        if not handlers or is_echo(event):
            event.status, event.handled_at, event.next_attempt_at = InboundEvent.Status.IGNORED, now, None
            event.save(update_fields=["status", "handled_at", "next_attempt_at", "updated_at"])
            return event
        event.attempts += 1
        try:
            with transaction.atomic():
                for handler in handlers:
                    handler(event)
        except Exception as exc:  # any handler failure is recorded and retried, never lost
            _record_failure(event, exc, dead_letter=dead_letter_on_failure)
        else:
            event.status, event.handled_at, event.next_attempt_at = InboundEvent.Status.HANDLED, now, None
            event.last_error = ""
        event.save(update_fields=["status", "attempts", "last_error", "handled_at", "next_attempt_at",
                                  "updated_at"])
    return event


def _record_failure(event: InboundEvent, exc: Exception, *, dead_letter: bool) -> None:
    event.last_error = f"{exc.__class__.__name__}: {exc}"[:5000]
    logger.warning("webhook handler failed", extra={"inbound_event_id": str(event.pk), "provider": event.provider,
                                                    "attempt": event.attempts})
    if event.attempts < settings.WEBHOOK_HANDLER_MAX_ATTEMPTS:
        event.next_attempt_at = timezone.now() + _retry_delay(event.attempts)
        return
    event.status, event.next_attempt_at = InboundEvent.Status.FAILED, None
    if dead_letter:
        dead_letter_create(tenant_id=event.tenant_id, operation=HANDLE_OPERATION,
                           payload={"inbound_event_id": str(event.pk)}, error=event.last_error,
                           error_code=exc.__class__.__name__, attempts=event.attempts,
                           integration_id=event.integration_id, subject_id=str(event.pk))


def inbound_events_handle(*, event_ids: list) -> int:
    """Handle a batch of events; returns how many reached a final state."""
    done = 0
    for event_id in event_ids:
        event = inbound_event_handle(event_id=event_id)
        done += bool(event and event.status != InboundEvent.Status.RECEIVED)
    return done


def inbound_events_dispatch_due() -> int:
    """Queue handling for received events whose retry has come due or whose nudge was lost."""
    now = timezone.now()
    lost_before = now - timedelta(seconds=settings.STALE_QUEUED_SECONDS)
    due = (InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED)
           .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=lost_before))
           .order_by("created_at").values_list("pk", flat=True)[:_DISPATCH_BATCH])
    event_ids = [str(event_id) for event_id in due]
    publish_handling(event_ids)  # from beat: publish inline, no web request is waiting
    return len(event_ids)


def inbound_event_replay(*, event: InboundEvent, actor: str) -> InboundEvent:
    """Run the handlers again now, whatever the event's state. On success its pending dead
    letter is closed; on failure the event resumes its retry schedule."""
    InboundEvent.objects.filter(pk=event.pk).update(status=InboundEvent.Status.RECEIVED, attempts=0,
                                                     next_attempt_at=None, handled_at=None,
                                                     updated_at=timezone.now())
    inbound_event_handle(event_id=event.pk, dead_letter_on_failure=False)
    event.refresh_from_db()
    if event.status in (InboundEvent.Status.HANDLED, InboundEvent.Status.IGNORED):
        DeadLetter.objects.filter(tenant_id=event.tenant_id, operation=HANDLE_OPERATION, subject_id=str(event.pk),
                                  status__in=[DeadLetter.Status.PENDING, DeadLetter.Status.REPLAY_FAILED]).update(
            status=DeadLetter.Status.REPLAYED, last_replayed_at=timezone.now(), last_replayed_by=actor[:200])
    logger.info("webhook event replayed", extra={"inbound_event_id": str(event.pk), "status": event.status})
    return event


@register_replay(HANDLE_OPERATION)
def _replay_dead_letter(letter: DeadLetter) -> None:
    event = InboundEvent.objects.filter(tenant_id=letter.tenant_id, pk=letter.payload.get("inbound_event_id")).first()
    if event is None:
        raise HandlerFailed("the webhook event behind this dead letter no longer exists")
    event = inbound_event_replay(event=event, actor="dead-letter-replay")
    if event.status not in (InboundEvent.Status.HANDLED, InboundEvent.Status.IGNORED):
        raise HandlerFailed(event.last_error or "the handlers failed again")
