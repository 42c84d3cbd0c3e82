"""Handing queued emails to Celery without making the API request wait for the broker.

A send request commits its message queued, puts the id on an in-memory queue and answers; a
daemon thread drains the queue and publishes one `emails_deliver` task per batch of ids, so
under load many requests share one broker round trip and the workers one task. The row is
the truth, the broker message only a nudge: losing the queue (the process dies between the
commit and the publish) loses nothing, beat's `messages_requeue_stale` enqueues messages left
queued longer than STALE_QUEUED_SECONDS.

With tasks running in-process (the embedded default, and tests) each id is published inline
as its own `email_deliver`, so delivery happens right after the commit as before.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time

logger = logging.getLogger(__name__)
TASK_BATCH = 50
_LINGER_SECONDS = 0.05  # how long the first id of a batch may wait for others

_pending: queue.SimpleQueue = queue.SimpleQueue()
_worker: threading.Thread | None = None
_worker_pid: int | None = None
_start_lock = threading.Lock()


def publish_email_deliveries(message_ids: list[str]) -> None:
    from communication.tasks import emails_deliver as emails_deliver_task

    for start in range(0, len(message_ids), TASK_BATCH):
        chunk = message_ids[start:start + TASK_BATCH]
        try:
            emails_deliver_task.delay(chunk)
        except Exception:  # broker down: the messages are queued rows; beat enqueues them later
            logger.warning("could not enqueue email deliveries; beat will retry",
                           extra={"messages": len(chunk)}, exc_info=True)


def _drain_forever() -> None:
    while True:
        batch = [_pending.get()]
        # A publish costs the same CPU whatever it carries, so gather what arrives in the next
        # moment: under load one publish (and one task) carries many requests' emails.
        deadline = time.monotonic() + _LINGER_SECONDS
        try:
            while len(batch) < 10 * TASK_BATCH and (remaining := deadline - time.monotonic()) > 0:
                batch.append(_pending.get(timeout=remaining))
        except queue.Empty:
            pass
        publish_email_deliveries(batch)


def _ensure_worker() -> None:
    global _worker, _worker_pid
    if _worker is not None and _worker_pid == os.getpid() and _worker.is_alive():
        return
    with _start_lock:
        if _worker is None or _worker_pid != os.getpid() or not _worker.is_alive():
            _worker = threading.Thread(target=_drain_forever, name="email-nudges", daemon=True)
            _worker.start()
            _worker_pid = os.getpid()


def nudge_email_delivery(message_id: str) -> None:
    """Ask Celery to deliver this queued email, soon."""
    from communication.tasks import email_deliver as email_deliver_task
    from config.celery import app

    if app.conf.task_always_eager:
        email_deliver_task.delay(message_id)
        return
    _ensure_worker()
    _pending.put(message_id)
