"""Celery tasks of communication: thin callers that take ids, call one service and own the
retry policy (a retryable failure of every config reschedules with exponential backoff,
never sooner than the provider's Retry-After)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from communication.services import email, push, sms, whatsapp
from communication.services.attempts import RetryLater


def _countdown(task, error) -> float:
    return max(error.retry_after or 0, settings.TASK_RETRY_BASE_SECONDS * 2**task.request.retries)


@shared_task(bind=True, acks_late=True, max_retries=None)
def email_deliver(self, message_id: str) -> None:
    final = self.request.retries >= settings.TASK_MAX_RETRIES
    try:
        email.email_deliver(message_id=message_id, final_attempt=final)
    except RetryLater as exc:
        raise self.retry(countdown=_countdown(self, exc.error)) from None


@shared_task(acks_late=True)
def emails_deliver(message_ids: list[str]) -> None:
    """A batch of freshly queued emails (communication.nudges): each is delivered on its
    own; one that must retry continues as its own `email_deliver`, with the usual backoff."""
    for message_id in message_ids:
        try:
            email.email_deliver(message_id=message_id, final_attempt=False)
        except RetryLater as exc:
            email_deliver.apply_async(
                (message_id,), retries=1,
                countdown=max(exc.error.retry_after or 0, settings.TASK_RETRY_BASE_SECONDS),
            )


@shared_task(bind=True, acks_late=True, max_retries=None)
def sms_deliver(self, message_id: str) -> None:
    final = self.request.retries >= settings.TASK_MAX_RETRIES
    try:
        sms.sms_deliver(message_id=message_id, final_attempt=final)
    except RetryLater as exc:
        raise self.retry(countdown=_countdown(self, exc.error)) from None


@shared_task(bind=True, acks_late=True, max_retries=None)
def push_deliver(self, message_id: str) -> None:
    final = self.request.retries >= settings.TASK_MAX_RETRIES
    try:
        push.push_deliver(message_id=message_id, final_attempt=final)
    except RetryLater as exc:
        raise self.retry(countdown=_countdown(self, exc.error)) from None


@shared_task(bind=True, acks_late=True, max_retries=None)
def whatsapp_deliver(self, message_id: str) -> None:
    final = self.request.retries >= settings.TASK_MAX_RETRIES
    try:
        whatsapp.whatsapp_deliver(message_id=message_id, final_attempt=final)
    except RetryLater as exc:
        raise self.retry(countdown=_countdown(self, exc.error)) from None


@shared_task
def messages_requeue_stale() -> dict:
    """Beat: re-enqueue messages left queued (a lost broker message, a config resumed) or
    claimed by a worker that died. Push and WhatsApp settle dead claims the in-flight way
    (communication.services.inflight): one whose request may have reached the provider is
    not sent again."""
    return {
        "email": email.emails_requeue_stale(),
        "sms": sms.sms_requeue_stale(),
        "push": push.push_requeue_stale(),
        "whatsapp": whatsapp.whatsapp_requeue_stale(),
    }
