"""Handing stored inbound events to Celery without making the provider wait for the broker.

The web process puts the ids of newly stored events on an in-memory queue and answers; a
daemon thread drains it and publishes one `inbound_events_handle` task per batch. Under load
many requests share one broker round trip. Losing the queue (the process dies between the
commit and the publish) loses nothing: the events are rows in `received`, and beat's
`inbound_events_dispatch_due` picks up those not handled within STALE_QUEUED_SECONDS.

With tasks running in-process (the embedded default, and tests) the nudge is published
inline, so handling happens right after the commit as before.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid

logger = logging.getLogger(__name__)
TASK_BATCH = 50
_LINGER_SECONDS = 0.05  # how long the first id of a batch may wait for others

_pending: queue.SimpleQueue = queue.SimpleQueue()
_worker: threading.Thread | None = None
_worker_pid: int | None = None
_start_lock = threading.Lock()


def publish_handling(event_ids: list[str]) -> None:
    from webhooks.tasks import inbound_events_handle as inbound_events_handle_task

    for start in range(0, len(event_ids), TASK_BATCH):
        chunk = event_ids[start:start + TASK_BATCH]
        try:
            inbound_events_handle_task.delay(chunk)
        except Exception:  # broker down: the events are stored; beat picks them up later
            logger.warning("could not enqueue webhook handling; beat will retry", extra={"events": len(chunk)},
                           exc_info=True)


def _drain_forever() -> None:
    while True:
        batch = [_pending.get()]
        # Publishing costs ~0.4 ms of CPU whatever the batch size, so gather what arrives in
        # the next moment: under load one publish carries many requests' events.
        deadline = time.monotonic() + _LINGER_SECONDS
        try:
            while len(batch) < 10 * TASK_BATCH and (remaining := deadline - time.monotonic()) > 0:
                batch.append(_pending.get(timeout=remaining))
        except queue.Empty:
            pass
        publish_handling([event_id for ids in batch for event_id in ids])


def _ensure_worker() -> None:
    global _worker, _worker_pid
    if _worker is not None and _worker_pid == os.getpid() and _worker.is_alive():
        return
    with _start_lock:
        if _worker is None or _worker_pid != os.getpid() or not _worker.is_alive():
            _worker = threading.Thread(target=_drain_forever, name="webhook-nudges", daemon=True)
            _worker.start()
            _worker_pid = os.getpid()


def nudge_handling(event_ids: list[uuid.UUID]) -> None:
    """Ask Celery to handle these stored events, soon."""
    from config.celery import app

    ids = [str(event_id) for event_id in event_ids]
    if app.conf.task_always_eager:
        publish_handling(ids)
        return
    _ensure_worker()
    _pending.put(ids)
