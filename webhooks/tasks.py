"""Celery tasks: thin callers of the webhooks services. Each is idempotent (rows are claimed
under a lock and only due work is done), so a message delivered twice does no harm, and the
retry policy lives in the rows (`next_attempt_at`), which the beat tasks below sweep."""
from __future__ import annotations

from celery import shared_task

from webhooks.services import deliveries, inbound


@shared_task(acks_late=True)
def inbound_events_handle(event_ids: list[str]) -> int:
    return inbound.inbound_events_handle(event_ids=event_ids)


@shared_task
def inbound_events_dispatch_due() -> int:
    return inbound.inbound_events_dispatch_due()


@shared_task
def outbox_fan_out() -> int:
    return deliveries.outbox_fan_out()


@shared_task(acks_late=True)
def delivery_attempt(delivery_id: str) -> None:
    deliveries.delivery_attempt(delivery_id=delivery_id)


@shared_task
def deliveries_dispatch_due() -> int:
    return deliveries.deliveries_dispatch_due()
