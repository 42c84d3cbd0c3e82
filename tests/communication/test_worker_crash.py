"""A real Celery worker killed with SIGKILL while pushes and WhatsApp messages are in flight.

The worker is `celery -A config worker` (prefork) in its own process group, on the test's
PostgreSQL database and this helper's Redis broker, sending to sandboxes that hold every send
for a while. When several requests have reached the sandboxes unanswered, the whole group is
killed; a new worker is started and the beat's requeue runs (with short stale thresholds)
until every accepted message is final.

What must hold, and why:
- every accepted message ends `sent` or `failed`, none is lost: task messages that died with
  the worker are replaced by the requeue of stale `queued` rows (acks_late alone would wait
  for Redis' visibility timeout), and stale claims are settled;
- the sandboxes never see a message twice, although the broker and the requeue both deliver
  task messages more than once: a claim needs `status = queued` under `skip_locked`, and a
  claim that had already handed its message to the provider (its dispatch marker) is never
  queued again: FCM and the Cloud API take no idempotency key, so such a message fails as
  `outcome_unknown` and waits, dead-lettered, for an operator's replay.

Residual risk: a message in that last state may or may not have reached the user (the provider
answered, or was about to, when the worker died). The hub sends it at most once on its own; a
replay after checking the provider's log sends it again. Messages whose claim died before the
request left are sent normally.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from communication.models import DeliveryAttempt, PushNotification, WhatsAppMessage
from integrations.models import DeadLetter
from tests.sandboxes.fixtures_push import fcm_config, whatsapp_config

REPO_ROOT = Path(__file__).resolve().parents[2]
PUSHES, WHATSAPPS = 24, 8
SEND_DELAY_SECONDS = 1.5
STALE_SECONDS = 3


def _test_database_url() -> str:
    configured = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(configured._replace(path=f"/{connection.settings_dict['NAME']}"))


class Worker:
    """`celery -A config worker` as a child in its own session, so SIGKILL reaches the pool too."""

    def __init__(self, env: dict, log: Path) -> None:
        self.log = log.open("ab")
        celery = Path(sys.executable).with_name("celery")
        self.process = subprocess.Popen(
            [str(celery), "-A", "config", "worker", "--pool=prefork", "--concurrency=4", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"crash-test-{time.time_ns()}@%h"],
            cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, app, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}; see {self.log.name}")
            if app.control.ping(timeout=0.5):
                return
        raise AssertionError(f"the worker did not answer a ping within {timeout} s; see {self.log.name}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def broker(redis_url):
    """The test process enqueues to the real broker (not in-process), on a purged queue."""
    from config.celery import app

    app.conf.task_always_eager = False
    app.control.purge()
    yield app
    app.control.purge()
    app.conf.task_always_eager = True


def _fcm_references(sandbox) -> list[str]:
    return [json.loads(r.body)["message"]["data"]["hub_message_id"] for r in sandbox.requests
            if r.path.endswith("/messages:send")]


def _whatsapp_bodies(sandbox) -> list[str]:
    return [json.loads(r.body)["text"]["body"] for r in sandbox.requests if r.path.endswith("/messages")]


def _unanswered(sandbox, suffix: str) -> list:
    return [r for r in sandbox.requests if r.path.endswith(suffix) and r.status is None]


def _dispatched_claims() -> set[str]:
    """Messages whose claim had started its provider request (the dispatch marker) when the
    worker died: the provider may hold them, whether or not its answer ever came back."""
    from communication.services.inflight import DISPATCHED

    claims = [(str(p.pk), p) for p in PushNotification.objects.filter(status="sending")]
    claims += [(m.body_text, m) for m in WhatsAppMessage.objects.filter(status="sending")]
    return {ref for ref, message in claims
            if message.metadata.get(DISPATCHED, {}).get("claim") == message.claimed_at.isoformat()}


def _settled() -> bool:
    return not (PushNotification.objects.exclude(status__in=["sent", "failed"]).exists()
                or WhatsAppMessage.objects.exclude(status__in=["sent", "failed"]).exists())


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_nothing_and_sends_nothing_twice(api, broker, fcm_sandbox, whatsapp_sandbox,
                                                              settings, tmp_path):
    # Given active FCM and WhatsApp configs and a worker on the test database and the broker
    fcm_config(api, fcm_sandbox)
    whatsapp_config(api, whatsapp_sandbox)
    fcm_sandbox.send_delay_seconds = whatsapp_sandbox.send_delay_seconds = SEND_DELAY_SECONDS
    env = os.environ | {
        "DATABASE_URL": _test_database_url(), "CELERY_BROKER_URL": os.environ["REDIS_URL"],
        "CELERY_TASK_ALWAYS_EAGER": "false", "PROVIDER_FCM_BASE_URL": fcm_sandbox.url,
        "PROVIDER_WHATSAPP_BASE_URL": whatsapp_sandbox.url, "LOG_FORMAT": "plain",
        "CELERY_VISIBILITY_TIMEOUT": "5"}  # Redis hands unacked tasks out again: duplicates on purpose
    log = tmp_path / "worker.log"
    worker = Worker(env, log)
    try:
        worker.wait_ready(broker)

        # When pushes and WhatsApp messages are accepted and the worker dies mid-send
        for n in range(PUSHES):
            assert api.post("/api/v1/communication/fcm/push/", {
                "target_token": f"token-{n}", "target_platform": "android", "title": f"Push {n}"},
                format="json").status_code == 202
        for n in range(WHATSAPPS):
            assert api.post("/api/v1/communication/whatsapp/messages/text/", {
                "to": "+46701234567", "body_text": f"Reminder {n}"}, format="json").status_code == 202
        deadline = time.monotonic() + 60
        while (len(_unanswered(fcm_sandbox, ":send")) + len(_unanswered(whatsapp_sandbox, "/messages")) < 3
               or PushNotification.objects.filter(status="sent").count() < 4):
            assert time.monotonic() < deadline, f"nothing got in flight; see {log}"
            time.sleep(0.05)
        worker.kill()
        in_flight = {json.loads(r.body)["message"]["data"]["hub_message_id"]
                     for r in _unanswered(fcm_sandbox, ":send")}
        in_flight |= {json.loads(r.body)["text"]["body"] for r in _unanswered(whatsapp_sandbox, "/messages")}
        received_before_restart = set(_fcm_references(fcm_sandbox)) | set(_whatsapp_bodies(whatsapp_sandbox))
        handed_over = _dispatched_claims()

        # ... and a new worker starts while the beat's requeue runs with short stale thresholds
        settings.STALE_CLAIM_SECONDS = settings.STALE_QUEUED_SECONDS = STALE_SECONDS
        worker = Worker(env, log)
        worker.wait_ready(broker)
        from communication.tasks import messages_requeue_stale

        deadline = time.monotonic() + 120
        while not _settled():
            assert time.monotonic() < deadline, f"messages never settled; see {log}"
            messages_requeue_stale()
            time.sleep(1)
    finally:
        worker.kill()

    # Then every accepted message is final, and no provider saw any message twice
    fcm_seen, whatsapp_seen = _fcm_references(fcm_sandbox), _whatsapp_bodies(whatsapp_sandbox)
    assert len(fcm_seen) == len(set(fcm_seen)) and len(whatsapp_seen) == len(set(whatsapp_seen))
    pushes = {str(p.pk): p for p in PushNotification.objects.all()}
    texts = {m.body_text: m for m in WhatsAppMessage.objects.all()}
    assert len(pushes) == PUSHES and len(texts) == WHATSAPPS
    by_reference = pushes | texts
    assert in_flight and in_flight <= set(by_reference)
    unknown = {ref for ref, message in by_reference.items() if message.status == "failed"}
    # A claim that had handed its message over when the worker died is never sent again: it
    # fails as outcome_unknown, dead-lettered for an operator, with one attempt saying so.
    # Requests the provider held unanswered are among them; so are requests just leaving.
    assert in_flight <= handed_over and unknown == handed_over
    for ref in unknown:
        message = by_reference[ref]
        assert message.error_code == "outcome_unknown"
        assert DeadLetter.objects.filter(subject_id=str(message.pk), error_code="outcome_unknown").count() == 1
        assert DeliveryAttempt.objects.filter(message_id=message.pk, outcome="outcome_unknown").count() == 1
    # Everything else was sent, exactly once, including every message claimed but not yet
    # handed over, or still queued, when the worker died.
    sent = set(by_reference) - unknown
    assert sent == {ref for ref, message in by_reference.items() if message.status == "sent"}
    assert sent <= set(fcm_seen) | set(whatsapp_seen)
    assert set(by_reference) - received_before_restart - handed_over <= sent
