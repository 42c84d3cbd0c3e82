"""Celery tasks: thin callers that take ids, call one service and own the retry policy."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from integrations.services import payments


@shared_task(bind=True, acks_late=True, max_retries=None)
def payment_submit(self, payment_id: str) -> None:
    final = self.request.retries >= settings.TASK_MAX_RETRIES
    try:
        payments.payment_submit(payment_id=payment_id, final_attempt=final)
    except payments.RetryLater as exc:
        countdown = max(exc.error.retry_after or 0, settings.TASK_RETRY_BASE_SECONDS * 2 ** self.request.retries)
        raise self.retry(countdown=countdown) from None


@shared_task
def payments_requeue_stale() -> int:
    return payments.payments_requeue_stale()
