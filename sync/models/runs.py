"""Sync runs, the per-record sync log, per-record errors, conflicts, CSV exports and the
database schedules (django-celery-beat) that start runs."""
from __future__ import annotations

from django.db import models
from django.db.models import Q

from integrations.models import Integration, TenantOwned


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_FAILED = "partially_failed", "Partially failed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_RUN_STATES = (RunState.QUEUED, RunState.RUNNING)
FINISHED_RUN_STATES = (RunState.SUCCEEDED, RunState.PARTIALLY_FAILED, RunState.FAILED, RunState.CANCELLED)


class RunTrigger(models.TextChoices):
    API = "api", "API request"
    SCHEDULE = "schedule", "Schedule"
    WEBHOOK = "webhook", "Provider webhook"
    ADMIN = "admin", "Admin"


class SyncRun(TenantOwned):
    """One sync of one integration: who or what started it, its state, counts and duration."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_runs")
    scope = models.CharField(max_length=20)
    state = models.CharField(max_length=20, choices=RunState.choices, default=RunState.QUEUED, db_index=True)
    trigger = models.CharField(max_length=12, choices=RunTrigger.choices)
    started_by = models.CharField(max_length=200)
    record_ids = models.JSONField(default=list, blank=True, help_text="Limit the run to these records.")
    mode = models.CharField(max_length=8, default="api", help_text="api, or csv for an export file.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker took the run up.")
    read_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One run per integration at a time: a second trigger meets this index and answers 409.
            models.UniqueConstraint(fields=["integration"], condition=Q(state__in=["queued", "running"]),
                                    name="sync_run_one_active_per_integration"),
        ]
        indexes = [models.Index(fields=["tenant", "integration", "state"], name="sync_run_tenant_state_idx")]

    def __str__(self) -> str:
        return f"{self.scope} run {self.pk} ({self.state})"


class LogState(models.TextChoices):
    PENDING = "pending", "Sent, outcome unknown"  # committed before the provider call
    SYNCED = "synced", "Synchronised"
    FAILED = "failed", "Failed"
    EXPORTED = "exported", "Exported to a CSV file"


class SyncLogEntry(TenantOwned):
    """Per integration and hub record: what was synchronised when, with which content hash,
    under which provider id. Makes runs incremental (same hash: skipped), resumable (a
    pending entry is looked up at the provider before creating again) and lets the webhook
    pipeline recognise the echo of our own writes."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_log")
    record_type = models.CharField(max_length=20)
    record_id = models.CharField(max_length=64)
    reference = models.CharField(max_length=100, blank=True)
    remote_id = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=10, choices=LogState.choices, default=LogState.PENDING)
    content_hash = models.CharField(max_length=64, blank=True, help_text="Hash of what the provider holds.")
    pending_hash = models.CharField(max_length=64, blank=True, help_text="Hash of what was last sent.")
    synced_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_error = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["integration", "record_type", "record_id"],
                                               name="sync_log_once_per_record")]
        indexes = [models.Index(fields=["tenant", "remote_id"], name="sync_log_remote_idx")]


class SyncRecordError(TenantOwned):
    """One record a run could not synchronise, and why."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="errors")
    record_type = models.CharField(max_length=20)
    record_id = models.CharField(max_length=64)
    reference = models.CharField(max_length=100, blank=True)
    code = models.CharField(max_length=60)
    message = models.CharField(max_length=1000)
    retryable = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at"]


class SyncConflict(TenantOwned):
    """A record changed on both sides since the last sync; the newer change won."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="conflicts")
    record_type = models.CharField(max_length=20)
    record_id = models.CharField(max_length=64)
    remote_id = models.CharField(max_length=255)
    winner = models.CharField(max_length=10, choices=[("hub", "Hub"), ("provider", "Provider")])
    hub_changed_at = models.DateTimeField()
    remote_changed_at = models.DateTimeField()
    hub_values = models.JSONField(default=dict)
    remote_values = models.JSONField(default=dict)

    class Meta:
        ordering = ["created_at"]


class SyncExport(TenantOwned):
    """The CSV file a run produced in the provider's import layout, for download."""

    run = models.OneToOneField(SyncRun, on_delete=models.CASCADE, related_name="export")
    layout = models.CharField(max_length=60)
    filename = models.CharField(max_length=200)
    rows = models.PositiveIntegerField(default=0)
    content = models.TextField()
    reason = models.CharField(max_length=300, blank=True)


class SyncSchedule(TenantOwned):
    """A tenant's recurring sync. The timing lives in django-celery-beat's PeriodicTask and
    CrontabSchedule, so ops see and change it in the admin; this row ties it to the tenant."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_schedules")
    scope = models.CharField(max_length=20)
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", on_delete=models.CASCADE,
                                         related_name="sync_schedule")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["integration", "scope"], name="sync_schedule_once_per_scope")]
