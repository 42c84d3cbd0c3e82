"""scheduleSync and cancelScheduledSync: recurring runs as django-celery-beat rows.

The timing is a CrontabSchedule and a PeriodicTask naming `sync.tasks.sync_scheduled` with the
integration and scope as kwargs, so ops see, pause and edit schedules in the admin and beat's
DatabaseScheduler picks changes up without a restart. A SyncSchedule row ties the task to the
tenant; deleting the task (API or admin) deletes it.
"""
from __future__ import annotations

import json
import logging
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from integrations.errors import ApplicationError, Conflict
from integrations.families.gov_registries import cron_problem
from integrations.models import Integration
from sync.models import SyncSchedule
from sync.selectors import integration_type_of
from sync.services.runs import FAMILY_SCOPES

logger = logging.getLogger(__name__)
SCHEDULED_TASK = "sync.tasks.sync_scheduled"


def sync_schedule_create(*, tenant, integration: Integration, scope: str, cron: str, timezone: str = "UTC",
                         actor: str) -> SyncSchedule:
    allowed = FAMILY_SCOPES.get(integration.family, ())
    if scope not in allowed:
        raise ApplicationError(f"scope '{scope}' does not apply to {integration_type_of(integration)}",
                               extra={"errors": {"scope": [f"use one of: {', '.join(allowed)}"]}})
    if problem := cron_problem(cron):
        raise ApplicationError(f"cron {problem}", extra={"errors": {"cron": [problem]}})
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ApplicationError(f"unknown time zone '{timezone}'",
                               extra={"errors": {"timezone": ["must be an IANA time zone such as Europe/Stockholm"]}}
                               ) from None
    minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
    name = f"sync {integration_type_of(integration)} {scope} [{integration.pk}]"
    try:
        with transaction.atomic():
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                day_of_week=day_of_week, timezone=timezone)
            task = PeriodicTask.objects.create(
                name=name, task=SCHEDULED_TASK, crontab=crontab,
                kwargs=json.dumps({"integration_id": str(integration.pk), "scope": scope}),
                description=f"{tenant.name}: {scope} sync of {integration.display_name}, created by {actor}"[:2000])
            schedule = SyncSchedule.objects.create(tenant=tenant, integration=integration, scope=scope,
                                                   periodic_task=task)
    except (IntegrityError, ValidationError):  # django-celery-beat validates its unique name on save
        raise Conflict(f"{integration.display_name} already has a {scope} schedule; cancel it first",
                       code="schedule_exists") from None
    logger.info("sync scheduled", extra={"schedule_id": str(schedule.pk), "cron": cron, "actor": actor})
    return schedule


def sync_schedule_cancel(*, schedule: SyncSchedule, actor: str) -> None:
    with transaction.atomic():
        PeriodicTask.objects.filter(pk=schedule.periodic_task_id).delete()  # cascades to the SyncSchedule
    logger.info("sync schedule cancelled", extra={"schedule_id": str(schedule.pk), "actor": actor})


def cron_of(schedule: SyncSchedule) -> str:
    crontab = schedule.periodic_task.crontab
    return " ".join([crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week])
