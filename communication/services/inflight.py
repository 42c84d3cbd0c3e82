"""Sends whose outcome a crash hid: a dispatch marker written before each provider request,
and the stale-claim sweep that honours it.

None of the messaging providers (SendGrid, Mailgun, 46elks, Twilio, FCM, the WhatsApp Cloud
API) takes an idempotency key. A worker killed after a provider accepted a request, but
before the row says `sent`, leaves the message `sending`; queueing it again would deliver it
twice. So every request is preceded by a committed marker naming the claim (and config) it
belongs to, and the sweep tells the two cases apart:

- a stale claim without its marker never reached a provider: it is queued again;
- a stale claim with its marker may have been delivered: it fails with error_code
  `outcome_unknown`, one DeliveryAttempt says so, and it is dead-lettered. Replaying the dead
  letter sends it again; that is an operator's call, made after checking the provider's log.

So a crash costs at most one delivery in that one window and at least one everywhere else.
A channel opts in by calling `dispatch_mark` in its prepared request and using this sweep.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from communication.models import DeliveryAttempt
from communication.services.attempts import ROUTE, Channel
from integrations.lifecycle import Status
from integrations.models import Integration
from integrations.services.deadletters import dead_letter_create

logger = logging.getLogger(__name__)
DISPATCHED = "dispatched"  # metadata key: {"claim": <claimed_at ISO>, "config": <config id>}
OUTCOME_UNKNOWN = "outcome_unknown"


def dispatch_mark(*, channel: Channel, message, config: Integration) -> None:
    """Record, committed, that this claim is about to hand the message to `config`."""
    marker = {"claim": message.claimed_at.isoformat(), "config": str(config.pk)}
    if message.metadata.get(DISPATCHED) == marker:
        return  # an in-call retry of the same request
    message.metadata = {**message.metadata, DISPATCHED: marker}
    channel.model.objects.filter(pk=message.pk).update(metadata=message.metadata)


def _was_dispatched(message) -> bool:
    marker = message.metadata.get(DISPATCHED)
    return isinstance(marker, dict) and marker.get("claim") == message.claimed_at.isoformat()


def _outcome_unknown(channel: Channel, message, now) -> None:
    config_id = message.metadata[DISPATCHED].get("config") or message.config_id
    config = Integration.objects.filter(pk=config_id).first()
    error = ("the worker died while the provider request was in flight; the provider may have "
             "delivered it and takes no idempotency key, so it is not sent again automatically")
    channel.model.objects.filter(pk=message.pk).update(status="failed", failed_at=now, last_error=error,
                                                       error_code=OUTCOME_UNKNOWN, updated_at=now)
    DeliveryAttempt.objects.create(tenant_id=message.tenant_id, message_kind=channel.kind, message_id=message.pk,
                                   config=config, provider=config.provider if config else "",
                                   outcome=OUTCOME_UNKNOWN, error=error)
    dead_letter_create(tenant_id=message.tenant_id, operation=channel.operation,
                       payload={"message_id": str(message.pk)}, error=error, error_code=OUTCOME_UNKNOWN,
                       attempts=message.attempts, integration_id=config.pk if config else None,
                       subject_id=str(message.pk))
    logger.warning("message outcome unknown after a worker died", extra={"message_id": str(message.pk),
                                                                          "kind": channel.kind})


def messages_requeue_stale(*, channel: Channel, limit: int = 1000) -> dict[str, int]:
    """Beat: settle claims of dead workers (see the module docstring), then re-enqueue messages
    left queued by a lost broker message or a config resumed since. Messages waiting for a
    paused config stay put until one of their configs is active."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.STALE_CLAIM_SECONDS)
    unknown, reclaimed_ids = 0, []
    with transaction.atomic():
        stale = list(channel.model.objects.select_for_update(skip_locked=True)
                     .filter(status="sending", claimed_at__lt=stale_before).order_by("claimed_at")[:limit])
        for message in stale:
            if _was_dispatched(message):
                _outcome_unknown(channel, message, now)
                unknown += 1
            else:
                channel.model.objects.filter(pk=message.pk).update(status="queued", updated_at=now)
                reclaimed_ids.append(message.pk)
    fields = ("pk", "config_id", "metadata")
    queued = list(channel.model.objects.filter(
        status="queued", updated_at__lt=now - timedelta(seconds=settings.STALE_QUEUED_SECONDS)
    ).only(*fields).order_by("updated_at")[:limit])
    if reclaimed_ids:  # their broker message died with the worker: enqueue them now
        queued += list(channel.model.objects.filter(pk__in=reclaimed_ids, status="queued").only(*fields))

    def route(message) -> list[str]:
        return [str(config_id) for config_id in (message.metadata.get(ROUTE) or [message.config_id]) if config_id]

    active = {str(pk) for pk in Integration.objects.filter(
        pk__in={config_id for message in queued for config_id in route(message)}, status=Status.ACTIVE
    ).values_list("pk", flat=True)}
    enqueued = 0
    for message in {message.pk: message for message in queued}.values():
        if any(config_id in active for config_id in route(message)):
            channel.enqueue(str(message.pk))
            enqueued += 1
    return {"enqueued": enqueued, "reclaimed": len(reclaimed_ids), "outcome_unknown": unknown}
