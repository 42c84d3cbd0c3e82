"""Delivery of one outbound message through its route, every try recorded.

The flow (DESIGN: "The flow of one outbound call"): a send service writes the message queued
with its route in `metadata["route"]` and enqueues a task on commit. The task calls
`message_deliver`, which

1. claims the row (`select_for_update(skip_locked=True)`, queued -> sending), unless no
   config of its route is active and one is paused: then the message waits, still queued;
2. tries each config of the route in order, skipping any that is no longer active. One try
   is `integration_call` (quota, breaker, in-call retries, usage, metrics); each provider
   request, each breaker refusal and each skip is a DeliveryAttempt;
3. a success marks the message sent by that config and provider; a permanent failure marks
   it failed at once, with no other config tried; a retryable failure (or an open breaker,
   or a used-up quota) moves on to the next config;
4. when every config failed retriably the message goes back to queued and the task retries
   later with backoff; after the last retry it fails and is dead-lettered, replayable.

Claims of workers that died, and messages left queued, are swept by
communication.services.inflight.messages_requeue_stale.

`message.attempts` counts claims (task runs), as payments do; the DeliveryAttempt rows are
the individual provider requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from adapters.errors import CircuitOpen, ProviderError, ProviderRejected
from adapters.types import SendResult
from communication.models import DeliveryAttempt
from integrations.errors import ApplicationError, Conflict
from integrations.lifecycle import Status
from integrations.models import Integration
from integrations.services.calls import QuotaExceeded, integration_call
from integrations.services.deadletters import dead_letter_create, register_replay

logger = logging.getLogger(__name__)
ROUTE = "route"  # metadata key: the config ids to try, in order
Resolver = Callable[[str], str]


class RetryLater(Exception):
    """Every config of the route failed retriably: the task reschedules itself."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Channel:
    """What differs between email, SMS (and push, WhatsApp): the rows, the provider call,
    and what a success writes besides the shared fields."""

    kind: str  # DeliveryAttempt.Kind
    model: type
    operation: str  # usage/metrics operation and dead-letter operation, e.g. "email.send"
    # (config, message, resolve) -> a zero-argument provider request; resolving refs and
    # building the adapter config happen here, once, not on every in-call retry.
    prepare: Callable[[Integration, object, Resolver], Callable[[], SendResult]]
    enqueue: Callable[[str], None]
    sent_fields: Callable[[Integration, object, SendResult], dict] = (
        lambda config, message, result: {}
    )


def attempt_record(
    *,
    message,
    kind: str,
    config: Integration | None,
    outcome: str,
    status_code: int | None = None,
    error: str = "",
    latency_ms: int = 0,
) -> DeliveryAttempt:
    return DeliveryAttempt.objects.create(
        tenant_id=message.tenant_id,
        message_kind=kind,
        message_id=message.pk,
        config_id=config.pk if config else None,
        provider=config.provider if config else "",
        outcome=outcome,
        status_code=status_code,
        error=error[:1000],
        latency_ms=latency_ms,
    )


def route_configs(message) -> list[Integration]:
    """The route's configs in order, as their provider subclasses; deleted ones drop out."""
    ids = [str(config_id) for config_id in message.metadata.get(ROUTE, [])] or (
        [str(message.config_id)] if message.config_id else []
    )
    found = {str(config.pk): config for config in Integration.objects.filter(pk__in=ids)}
    return [found[config_id].specific() for config_id in ids if config_id in found]


def _waits_for_resume(configs: list[Integration]) -> bool:
    statuses = {config.status for config in configs}
    return Status.ACTIVE not in statuses and Status.PAUSED in statuses


def message_claim(*, channel: Channel, message_id):
    """Move a queued message to sending, unless another worker holds it or it must wait."""
    with transaction.atomic():
        message = (
            channel.model.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status="queued")
            .first()
        )
        if message is None:
            return None
        configs = route_configs(message)
        if _waits_for_resume(configs):
            return None
        message.status = "sending"
        message.attempts += 1
        message.claimed_at = timezone.now()
        message.save(update_fields=["status", "attempts", "claimed_at", "updated_at"])
    # Read under the claim's lock; the delivery tries these, not a second reading.
    message.claimed_route = configs
    return message


def message_deliver(*, channel: Channel, message_id, final_attempt: bool):
    """Hand one message to the first config of its route that takes it. Raises RetryLater
    when every config failed retriably and this is not the final attempt."""
    message = message_claim(channel=channel, message_id=message_id)
    if message is None:
        return None
    last_error: ProviderError | None = None
    for config in message.claimed_route:
        if config.status != Status.ACTIVE:
            attempt_record(
                message=message,
                kind=channel.kind,
                config=config,
                outcome="skipped",
                error=f"the config is {config.status}",
            )
            continue
        try:
            result = _try_config(channel, message, config)
        except ProviderError as error:
            if not error.retryable:
                return _failed(channel, message, error, dead_letter=False)
            last_error = error
            continue
        return _sent(channel, message, config, result)
    if last_error is None:  # no config of the route is usable any more
        last_error = ProviderRejected(
            "no config of this message's route is active any more",
            provider=message.provider or "",
            code="no_route",
        )
        return _failed(channel, message, last_error, dead_letter=False)
    if not final_attempt:
        channel.model.objects.filter(pk=message.pk).update(
            status="queued",
            last_error=str(last_error)[:1000],
            error_code=_error_code(last_error),
            updated_at=timezone.now(),
        )
        raise RetryLater(last_error)
    return _failed(channel, message, last_error, dead_letter=True)


def _try_config(channel: Channel, message, config: Integration) -> SendResult:
    from integrations.secrets.services import secret_resolve

    try:
        request = channel.prepare(
            config, message, lambda ref: secret_resolve(tenant=config.tenant, ref=ref)
        )
    except ApplicationError as exc:  # a ref that does not resolve: this config cannot send
        error = ProviderRejected(exc.detail, provider=config.provider, code=exc.code)
        attempt_record(
            message=message,
            kind=channel.kind,
            config=config,
            outcome="permanent_error",
            error=exc.detail,
        )
        raise error from None

    def one_request() -> SendResult:
        started = time.perf_counter()
        try:
            result = request()
        except ProviderError as error:
            attempt_record(
                message=message,
                kind=channel.kind,
                config=config,
                outcome="retryable_error" if error.retryable else "permanent_error",
                status_code=error.status_code,
                error=str(error),
                latency_ms=_ms_since(started),
            )
            raise
        attempt_record(
            message=message,
            kind=channel.kind,
            config=config,
            outcome="sent",
            latency_ms=_ms_since(started),
        )
        return result

    try:
        return integration_call(integration=config, operation=channel.operation, fn=one_request)
    except CircuitOpen as error:
        attempt_record(
            message=message,
            kind=channel.kind,
            config=config,
            outcome="circuit_open",
            error=str(error),
        )
        raise
    except QuotaExceeded as exc:
        attempt_record(
            message=message, kind=channel.kind, config=config, outcome="skipped", error=exc.detail
        )
        raise _QuotaUsedUp(exc.detail, provider=config.provider, code=exc.code) from None


class _QuotaUsedUp(ProviderError):
    """The config's quota is used up: another config may send now, this one later."""

    def __init__(self, message: str, *, provider: str, code: str) -> None:
        super().__init__(message, provider=provider, retryable=True, code=code)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _error_code(error: ProviderError) -> str:
    return (error.code or type(error).__name__)[:100]


def _sent(channel: Channel, message, config: Integration, result: SendResult):
    fields = {
        "status": "sent",
        "config_id": config.pk,
        "provider": config.provider,
        "provider_message_id": result.provider_message_id[:200],
        "sent_at": timezone.now(),
        "last_error": "",
        "error_code": "",
        "updated_at": timezone.now(),
    }
    fields.update(channel.sent_fields(config, message, result))
    channel.model.objects.filter(pk=message.pk).update(**fields)
    for name, value in fields.items():  # the row now holds exactly these: no re-read
        setattr(message, name, value)
    logger.info(
        "message sent",
        extra={
            "message_id": str(message.pk),
            "kind": channel.kind,
            "provider": config.provider,
            "config_id": str(config.pk),
        },
    )
    return message


def _failed(channel: Channel, message, error: ProviderError, *, dead_letter: bool):
    channel.model.objects.filter(pk=message.pk).update(
        status="failed",
        failed_at=timezone.now(),
        last_error=str(error)[:1000],
        error_code=_error_code(error),
        updated_at=timezone.now(),
    )
    if dead_letter:  # retries ran out on a failure that may pass later: keep it replayable
        dead_letter_create(
            tenant_id=message.tenant_id,
            operation=channel.operation,
            payload={"message_id": str(message.pk)},
            error=str(error),
            error_code=_error_code(error),
            attempts=message.attempts,
            integration_id=message.config_id,
            subject_id=str(message.pk),
        )
    message.refresh_from_db()
    logger.warning(
        "message failed",
        extra={
            "message_id": str(message.pk),
            "kind": channel.kind,
            "error_code": message.error_code,
            "dead_lettered": dead_letter,
        },
    )
    return message


def register_channel_replay(channel: Channel) -> None:
    """A dead-lettered message is replayed by queueing it again and delivering it once now."""

    @register_replay(channel.operation)
    def replay(dead_letter) -> None:
        message_id = dead_letter.payload["message_id"]
        updated = channel.model.objects.filter(
            pk=message_id, tenant_id=dead_letter.tenant_id, status="failed"
        ).update(status="queued")
        if not updated:
            raise Conflict("the message is no longer in a failed state")
        message = message_deliver(channel=channel, message_id=message_id, final_attempt=True)
        if message is None or message.status == "failed":
            raise Conflict(message.last_error if message else "the message could not be claimed")
