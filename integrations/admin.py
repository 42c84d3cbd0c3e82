from django.contrib import admin

from integrations.admin_scoping import TenantScopedAdmin
from integrations.models import ApiKey, Membership, Tenant
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

            kwargs["queryset"] = get_user_model().objects.filter(
                memberships__tenant__in=admin_tenants(request.user, write=True)).distinct()
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
