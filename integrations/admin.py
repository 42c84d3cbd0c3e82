from django.contrib import admin, messages

from integrations.admin_scoping import TenantScopedAdmin
from integrations.models import (
    ApiKey,
    DeadLetter,
    Integration,
    LifecycleTransition,
    Membership,
    Payment,
    Tenant,
    ValidationRun,
)
from integrations.services.deadletters import dead_letter_replay
from integrations.secrets import admin as _secrets_admin  # noqa: F401  registers LocalSecretAdmin


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    tenant_lookup = "pk"
    list_display = ("name", "slug", "is_active", "created_at")
    search_fields = ("name", "slug")

    def get_queryset(self, request):
        from integrations.admin_scoping import admin_tenants

        return admin_tenants(request.user)

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "role", "created_at")
    list_filter = ("role",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            from django.contrib.auth import get_user_model

            from integrations.admin_scoping import admin_tenants

            # People of every tenant the admin can see (a tenant they administer, or one they
            # are a member of): whom they may add to a tenant they administer.
            kwargs["queryset"] = get_user_model().objects.filter(
                memberships__tenant__in=admin_tenants(request.user)).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ("name", "prefix", "tenant", "scopes", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "scopes", "last_used_at", "created_at")
    fields = ("name", "prefix", "scopes", "last_used_at", "revoked_at", "created_at")
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are created where the plaintext can be shown once: the API or the command

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        from django.utils import timezone

        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(DeadLetter)
class DeadLetterAdmin(TenantScopedAdmin):
    list_display = ("operation", "subject_id", "status", "error_code", "attempts", "replay_count", "created_at")
    list_filter = ("status", "operation")
    readonly_fields = ("operation", "subject_id", "payload", "error", "error_code", "attempts", "status",
                       "replay_count", "last_replayed_at", "last_replayed_by", "integration", "created_at")
    exclude = ("tenant",)
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Replay selected dead letters")
    def replay(self, request, queryset):
        replayed = failed = 0
        for letter in queryset.filter(status__in=[DeadLetter.Status.PENDING, DeadLetter.Status.REPLAY_FAILED]):
            result = dead_letter_replay(dead_letter=letter, actor=f"admin:{request.user.get_username()}")
            if result.status == DeadLetter.Status.REPLAYED:
                replayed += 1
            else:
                failed += 1
        self.message_user(request, f"{replayed} replayed, {failed} failed again",
                          messages.SUCCESS if not failed else messages.WARNING)


@admin.register(LifecycleTransition)
class LifecycleTransitionAdmin(TenantScopedAdmin):
    list_display = ("integration", "action", "from_status", "to_status", "actor", "reason", "created_at")
    list_filter = ("action", "to_status")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ValidationRun)
class ValidationRunAdmin(LifecycleTransitionAdmin):
    list_display = ("integration", "passed", "message", "actor", "latency_ms", "created_at")
    list_filter = ("passed",)


@admin.register(Payment)
class PaymentAdmin(TenantScopedAdmin):
    list_display = ("id", "integration", "amount", "currency", "status", "provider_payment_id", "created_at")
    list_filter = ("status", "currency")
    readonly_fields = [f.name for f in Payment._meta.fields if f.name not in ("tenant",)]
    exclude = ("tenant",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Integration)
class IntegrationAdmin(TenantScopedAdmin):
    list_display = ("display_name", "family", "provider", "status", "sandbox_mode", "last_validation_passed",
                    "created_at")
    list_filter = ("family", "status", "provider")
    search_fields = ("display_name",)
    readonly_fields = ("family", "provider", "status", "status_reason", "status_changed_at", "last_validated_at",
                       "last_validation_passed", "last_validation_message", "config_changed_at")
    exclude = ("tenant", "consecutive_auth_failures")

    def has_add_permission(self, request) -> bool:
        return False  # integrations are added per family
