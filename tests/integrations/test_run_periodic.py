"""The embedded default's in-process beat runs the static schedule and tenants' database schedules."""
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded(settings):
    calls = []

    @app.task(name="tests.record_periodic_call")
    def record(label):
        calls.append(label)

    settings.CELERY_BEAT_SCHEDULE = {"static": {"task": "tests.record_periodic_call", "schedule": 60.0,
                                                "args": ("static",)}}
    yield calls
    app.tasks.unregister("tests.record_periodic_call")


def test_due_static_and_database_schedules_run_once_per_pass(recorded):
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    long_ago = timezone.now() - timedelta(minutes=2)
    due = PeriodicTask.objects.create(name="nightly push", task="tests.record_periodic_call", interval=every_minute,
                                      args=json.dumps(["from-db"]), last_run_at=long_ago)
    PeriodicTask.objects.create(name="switched off", task="tests.record_periodic_call", interval=every_minute,
                                args=json.dumps(["disabled"]), enabled=False, last_run_at=long_ago)
    PeriodicTask.objects.create(name="ran just now", task="tests.record_periodic_call", interval=every_minute,
                                args=json.dumps(["not-due"]), last_run_at=timezone.now())

    call_command("run_periodic", "--once")

    assert sorted(recorded) == ["from-db", "static"]
    due.refresh_from_db()
    assert due.total_run_count == 1 and due.last_run_at > long_ago
