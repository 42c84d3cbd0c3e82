"""Emails handed to Celery in batches (communication.nudges): one task delivers many queued
emails, each on its own, and one that must retry continues as its own task."""

import time

import pytest

from communication import nudges
from communication.models import EmailMessage
from communication.tasks import emails_deliver
from tests.communication.helpers_mail import BASE, active_config, sendgrid_body

PLAIN = {"to": [{"email": "anna@club.example"}], "subject": "Årsmöte", "body_text": "Välkommen!"}


def _accept(api, count: int) -> list[str]:
    """Accepted and committed, their nudges not run: the emails wait queued."""
    return [api.post(f"{BASE}/sendgrid/emails/", PLAIN, format="json").json()["id"] for _ in range(count)]


@pytest.mark.django_db
def test_one_batch_task_delivers_every_email_of_the_batch(api, sendgrid_sandbox):
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    message_ids = _accept(api, 3)

    emails_deliver.apply(args=[message_ids])

    statuses = dict(EmailMessage.objects.values_list("pk", "status"))
    assert sorted(statuses.values()) == ["sent", "sent", "sent"]
    assert len(sendgrid_sandbox.mails) == 3


@pytest.mark.django_db
def test_an_email_of_a_batch_that_must_retry_continues_as_its_own_task(
    api, sendgrid_sandbox, monkeypatch
):
    from adapters import resilience
    from communication import tasks

    resilience.configure(redis_url=None, fail_max=100, reset_timeout=60,
                         retry_policy=resilience.RetryPolicy(initial_wait=0.001, max_wait=0.01))
    active_config(api, "sendgrid", sendgrid_body(api, sendgrid_sandbox))
    message_ids = _accept(api, 2)
    continued = []
    monkeypatch.setattr(tasks.email_deliver, "apply_async",
                        lambda args, **options: continued.append((args, options)))
    sendgrid_sandbox.fail_next(3, status=503, headers={})  # every in-call try of the first email

    emails_deliver.apply(args=[message_ids])

    first, second = (EmailMessage.objects.get(pk=pk) for pk in message_ids)
    assert (first.status, first.error_code != "") == ("queued", True)
    assert second.status == "sent"
    [(args, options)] = continued
    assert (args, options["retries"]) == ((message_ids[0],), 1)


def test_outside_eager_mode_ids_are_gathered_into_one_publish(monkeypatch):
    from config.celery import app

    published = []
    monkeypatch.setattr(nudges, "publish_email_deliveries", published.append)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    try:
        for message_id in ("a", "b", "c"):
            nudges.nudge_email_delivery(message_id)
    finally:
        app.conf.task_always_eager = eager

    deadline = time.monotonic() + 2
    while not published and time.monotonic() < deadline:
        time.sleep(0.01)
    assert published == [["a", "b", "c"]]
