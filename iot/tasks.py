"""Celery tasks of court operations: thin callers that own the retry policy."""
from __future__ import annotations

from celery import shared_task
from django.conf import settings

from iot.services import heartbeats, highlights, ledger, reconcile


@shared_task
def devices_mark_offline() -> int:
    return heartbeats.devices_mark_offline()


@shared_task(bind=True, acks_late=True, max_retries=None)
def highlight_clip_request(self, clip_id: str) -> None:
    final = self.request.retries >= settings.TASK_MAX_RETRIES
    try:
        highlights.highlight_clip_request(clip_id=clip_id, final_attempt=final)
    except highlights.RetryLater as exc:
        countdown = max(exc.error.retry_after or 0, settings.TASK_RETRY_BASE_SECONDS * 2 ** self.request.retries)
        raise self.retry(countdown=countdown) from None


@shared_task
def highlight_clips_reconcile() -> dict:
    return highlights.highlight_clips_reconcile()


@shared_task
def sessions_reconcile() -> dict:
    return reconcile.sessions_reconcile()


@shared_task
def processed_messages_purge() -> int:
    return ledger.processed_messages_purge()
