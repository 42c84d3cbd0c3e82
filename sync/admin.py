"""Sync in the admin: runs (with their errors and conflicts, cancel and run-now actions), the
sync log, schedules (the timing itself is django-celery-beat's Periodic tasks page), the
third-party provider register, the crm/lms/erp configs and the hub's own records."""
from __future__ import annotations

from django.contrib import admin, messages

from integrations.admin_scoping import TenantScopedAdmin
from integrations.errors import ApplicationError
from sync.models import (
    CourseEnrollment,
    CrmIntegration,
    ErpIntegration,
    Expense,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    LmsIntegration,
    Reimbursement,
    RunTrigger,
    SyncConflict,
    SyncLogEntry,
    SyncRecordError,
    SyncRun,
    SyncSchedule,
    ThirdPartyProvider,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RecordErrorInline(ReadOnlyInline):
    model = SyncRecordError
    fields = ("record_type", "reference", "code", "message", "retryable", "created_at")
    readonly_fields = fields
    exclude = ("tenant",)


class ConflictInline(ReadOnlyInline):
    model = SyncConflict
    fields = ("record_type", "record_id", "remote_id", "winner", "hub_changed_at", "remote_changed_at")
    readonly_fields = fields


@admin.register(SyncRun)
class SyncRunAdmin(TenantScopedAdmin):
    list_display = ("integration", "scope", "state", "trigger", "started_by", "created_count", "updated_count",
                    "skipped_count", "failed_count", "duration_ms", "created_at")
    list_filter = ("state", "scope", "trigger")
    readonly_fields = [f.name for f in SyncRun._meta.concrete_fields if f.name not in ("id", "tenant")]
    exclude = ("tenant",)
    inlines = [RecordErrorInline, ConflictInline]
    actions = ["cancel"]

    def has_add_permission(self, request) -> bool:
        return False  # runs are started through the API, a schedule or the "run again" action

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request, queryset):
        from sync.services.runs import sync_run_cancel

        done = 0
        for run in queryset:
            try:
                sync_run_cancel(run=run, actor=f"admin:{request.user.get_username()}")
                done += 1
            except ApplicationError as exc:
                self.message_user(request, f"{run}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{done} run(s) cancelled", messages.SUCCESS)


@admin.register(SyncLogEntry)
class SyncLogEntryAdmin(TenantScopedAdmin):
    list_display = ("integration", "record_type", "reference", "remote_id", "state", "synced_at",
                    "remote_updated_at")
    list_filter = ("state", "record_type")
    search_fields = ("reference", "remote_id", "record_id")
    readonly_fields = [f.name for f in SyncLogEntry._meta.concrete_fields if f.name not in ("id", "tenant")]
    exclude = ("tenant",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SyncSchedule)
class SyncScheduleAdmin(TenantScopedAdmin):
    list_display = ("integration", "scope", "periodic_task", "created_at")
    readonly_fields = ("integration", "scope", "periodic_task")
    exclude = ("tenant",)
    actions = ["run_now"]

    def has_add_permission(self, request) -> bool:
        return False  # created with the API (scheduleSync); timing edited on the periodic task

    @admin.action(description="Run the selected schedules now")
    def run_now(self, request, queryset):
        from sync.services.runs import sync_trigger

        for schedule in queryset.select_related("integration", "tenant"):
            try:
                sync_trigger(tenant=schedule.tenant, integration=schedule.integration.specific(),
                             scope=schedule.scope, trigger=RunTrigger.ADMIN,
                             actor=f"admin:{request.user.get_username()}")
            except ApplicationError as exc:
                self.message_user(request, f"{schedule.integration}: {exc.detail}", messages.WARNING)


@admin.register(ThirdPartyProvider)
class ThirdPartyProviderAdmin(TenantScopedAdmin):
    """Provider administration: an ERP implementing the hub's ERP interface, per tenant."""

    list_display = ("display_name", "key", "tenant", "base_url", "is_active")
    list_filter = ("is_active",)
    search_fields = ("key", "display_name")
    fields = ("tenant", "key", "display_name", "base_url", "auth_ref", "capabilities", "docs_url", "is_active")


class ConfigAdmin(TenantScopedAdmin):
    list_display = ("display_name", "provider", "tenant", "status", "sandbox_mode", "last_validated_at")
    list_filter = ("status", "provider")
    readonly_fields = ("family", "status", "status_reason", "last_validated_at", "last_validation_passed",
                       "last_validation_message")


admin.site.register(CrmIntegration, ConfigAdmin)
admin.site.register(LmsIntegration, ConfigAdmin)
admin.site.register(ErpIntegration, ConfigAdmin)


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(TenantScopedAdmin):
    list_display = ("number", "customer_name", "issue_date", "due_date", "currency", "tenant")
    search_fields = ("number", "customer_name", "customer_number")
    inlines = [InvoiceLineInline]


@admin.register(InvoicePayment)
class InvoicePaymentAdmin(TenantScopedAdmin):
    list_display = ("reference", "invoice", "amount", "currency", "paid_on")


@admin.register(Expense)
class ExpenseAdmin(TenantScopedAdmin):
    list_display = ("reference", "description", "category", "amount", "currency", "incurred_on")


@admin.register(Reimbursement)
class ReimbursementAdmin(TenantScopedAdmin):
    list_display = ("reference", "payee_name", "amount", "currency", "approved", "approved_by")
    list_filter = ("approved",)


@admin.register(CourseEnrollment)
class CourseEnrollmentAdmin(TenantScopedAdmin):
    list_display = ("member", "course_code", "status", "enrolled_on", "completed_on")
    list_filter = ("status",)
