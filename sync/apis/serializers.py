"""Output serializers of the sync API."""
from __future__ import annotations

from datetime import datetime

from rest_framework import serializers

from sync.models import SyncRun, SyncSchedule
from sync.selectors import integration_type_of

MAX_ERRORS_SHOWN = 200


class RunSerializer(serializers.ModelSerializer):
    integration_type = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    export_url = serializers.SerializerMethodField()

    class Meta:
        model = SyncRun
        fields = ["id", "integration_id", "integration_type", "scope", "state", "trigger", "started_by", "mode",
                  "record_ids", "created_at", "started_at", "finished_at", "duration_ms", "attempts", "counts",
                  "error_code", "error_message", "cancel_requested", "export_url"]

    def get_integration_type(self, run) -> str:
        return integration_type_of(run.integration)

    def get_counts(self, run) -> dict:
        return {"read": run.read_count, "created": run.created_count, "updated": run.updated_count,
                "skipped": run.skipped_count, "failed": run.failed_count}

    def get_export_url(self, run) -> str | None:
        return f"/api/v1/sync/runs/{run.pk}/export.csv" if hasattr(run, "export") else None


class RunDetailSerializer(RunSerializer):
    errors = serializers.SerializerMethodField()
    conflicts = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = RunSerializer.Meta.fields + ["errors", "conflicts"]

    def get_errors(self, run) -> list[dict]:
        return list(run.errors.values("record_type", "record_id", "reference", "code", "message", "retryable",
                                      "created_at")[:MAX_ERRORS_SHOWN])

    def get_conflicts(self, run) -> list[dict]:
        return list(run.conflicts.values("record_type", "record_id", "remote_id", "winner", "hub_changed_at",
                                         "remote_changed_at", "hub_values", "remote_values")[:MAX_ERRORS_SHOWN])


class ScheduleSerializer(serializers.ModelSerializer):
    integration_type = serializers.SerializerMethodField()
    cron = serializers.SerializerMethodField()
    timezone = serializers.SerializerMethodField()
    periodic_task = serializers.SerializerMethodField()
    enabled = serializers.SerializerMethodField()
    last_run_at = serializers.SerializerMethodField()

    class Meta:
        model = SyncSchedule
        fields = ["id", "integration_id", "integration_type", "scope", "cron", "timezone", "enabled",
                  "periodic_task", "last_run_at", "created_at"]

    def get_integration_type(self, schedule) -> str:
        return integration_type_of(schedule.integration)

    def get_cron(self, schedule) -> str:
        from sync.services.schedules import cron_of

        return cron_of(schedule)

    def get_timezone(self, schedule) -> str:
        return str(schedule.periodic_task.crontab.timezone)

    def get_periodic_task(self, schedule) -> dict:
        task = schedule.periodic_task
        return {"id": task.pk, "name": task.name, "task": task.task}

    def get_enabled(self, schedule) -> bool:
        return schedule.periodic_task.enabled

    def get_last_run_at(self, schedule) -> datetime | None:
        return schedule.periodic_task.last_run_at
