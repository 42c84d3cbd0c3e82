"""Run the beat schedule in this process, for the embedded default (no broker, no beat).

`bin/serve` starts it beside the web server so retries, re-enqueues of stale rows, outbound
webhook deliveries and the tenants' own django-celery-beat schedules happen in development
exactly as `celery beat` makes them happen in a deployment. Each due task runs in-process.
"""
from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timezone

from celery.schedules import schedule as every
from django.conf import settings
from django.core.management.base import BaseCommand

from config.celery import app

logger = logging.getLogger(__name__)
_TICK_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run the Celery beat schedule in-process (embedded default; deployments run `celery beat`)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every task that is due now, then exit")

    def handle(self, *args, once: bool, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        last_run: dict[str, datetime] = {}
        while not stopping:
            for name, task, task_args, task_kwargs, due in self._entries(last_run):
                if not due:
                    continue
                last_run[name] = datetime.now(timezone.utc)
                if name.startswith("db:"):
                    self._record_run(int(name[3:]), last_run[name])
                try:
                    app.tasks[task].apply(args=task_args, kwargs=task_kwargs)
                except Exception:  # one failing periodic task must not stop the others
                    logger.exception("periodic task failed", extra={"task": task})
            if once:
                return
            time.sleep(_TICK_SECONDS)

    def _entries(self, last_run: dict[str, datetime]):
        now = datetime.now(timezone.utc)
        app.loader.import_default_modules()
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            spec = entry["schedule"]
            spec = every(spec) if isinstance(spec, (int, float)) else spec
            since = last_run.get(name, datetime.fromtimestamp(0, timezone.utc))
            yield (name, entry["task"], entry.get("args", ()), entry.get("kwargs", {}),
                   spec.is_due(since).is_due)
        yield from self._database_entries(now, last_run)

    @staticmethod
    def _record_run(task_id: int, when: datetime) -> None:
        """What celery beat's DatabaseScheduler records, so the admin shows the same history."""
        from django.db.models import F
        from django_celery_beat.models import PeriodicTask

        PeriodicTask.objects.filter(pk=task_id).update(last_run_at=when, total_run_count=F("total_run_count") + 1)

    def _database_entries(self, now: datetime, last_run: dict[str, datetime]):
        import json

        from django_celery_beat.models import PeriodicTask

        for task in PeriodicTask.objects.filter(enabled=True).exclude(name__in=settings.CELERY_BEAT_SCHEDULE):
            name = f"db:{task.pk}"
            since = last_run.get(name) or task.last_run_at or task.date_changed
            due = task.schedule.is_due(since).is_due and (task.start_time is None or task.start_time <= now)
            yield name, task.task, json.loads(task.args or "[]"), json.loads(task.kwargs or "{}"), due
