"""The dead-letter queue: operations that failed for good, kept with their error, replayable.

Each replayable operation registers a handler by name; replay runs it again now and records
whether it succeeded.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from integrations.errors import Conflict
from integrations.models import DeadLetter

logger = logging.getLogger(__name__)

ReplayHandler = Callable[[DeadLetter], None]  # raises on failure
_handlers: dict[str, ReplayHandler] = {}


def register_replay(operation: str) -> Callable[[ReplayHandler], ReplayHandler]:
    def decorator(fn: ReplayHandler) -> ReplayHandler:
        _handlers[operation] = fn
        return fn

    return decorator


def dead_letter_create(*, tenant_id, operation: str, payload: dict, error: str, error_code: str = "",
                       attempts: int = 0, integration_id=None, subject_id: str = "") -> DeadLetter:
    from integrations.events import event_emit

    with transaction.atomic():
        letter = DeadLetter.objects.create(tenant_id=tenant_id, integration_id=integration_id, operation=operation,
                                           payload=payload, error=error[:5000], error_code=error_code[:100],
                                           attempts=attempts, subject_id=str(subject_id)[:64])
        event_emit(tenant_id=tenant_id, event_type="dead_letter.created",
                   data={"dead_letter_id": str(letter.pk), "operation": operation, "error": error[:500]})
    logger.warning("operation dead-lettered", extra={"operation": operation, "dead_letter_id": str(letter.pk),
                                                      "error_code": error_code})
    return letter


def dead_letter_replay(*, dead_letter: DeadLetter, actor: str) -> DeadLetter:
    if dead_letter.status in (DeadLetter.Status.REPLAYED, DeadLetter.Status.DISCARDED):
        raise Conflict(f"this dead letter is already {dead_letter.status}")
    handler = _handlers.get(dead_letter.operation)
    if handler is None:
        raise Conflict(f"no replay handler for operation '{dead_letter.operation}'")
    try:
        handler(dead_letter)
        status, error = DeadLetter.Status.REPLAYED, dead_letter.error
    except Exception as exc:  # the replayed operation's own failure is recorded, not raised
        status, error = DeadLetter.Status.REPLAY_FAILED, f"replay failed: {exc}"
        logger.warning("dead-letter replay failed", extra={"dead_letter_id": str(dead_letter.pk)})
    DeadLetter.objects.filter(pk=dead_letter.pk).update(
        status=status, error=error[:5000], last_replayed_at=timezone.now(), last_replayed_by=actor[:200],
        replay_count=dead_letter.replay_count + 1)
    dead_letter.refresh_from_db()
    return dead_letter


def dead_letter_discard(*, dead_letter: DeadLetter, actor: str) -> DeadLetter:
    if dead_letter.status == DeadLetter.Status.REPLAYED:
        raise Conflict("a replayed dead letter cannot be discarded")
    DeadLetter.objects.filter(pk=dead_letter.pk).update(status=DeadLetter.Status.DISCARDED,
                                                        last_replayed_by=actor[:200])
    dead_letter.refresh_from_db()
    return dead_letter
