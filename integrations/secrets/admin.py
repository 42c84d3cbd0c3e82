"""Admin for the local store: names and versions only. Values are written through the API
(or `secret_store`) and can be neither read nor edited here."""
from __future__ import annotations

from django.contrib import admin

from integrations.admin_scoping import TenantScopedAdmin
from integrations.models import LocalSecret


@admin.register(LocalSecret)
class LocalSecretAdmin(TenantScopedAdmin):
    list_display = ("name", "version", "tenant", "created_at")
    list_filter = ("created_at",)
    search_fields = ("name",)
    fields = ("name", "version", "created_at")
    readonly_fields = ("name", "version", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("ciphertext")

    def has_add_permission(self, request) -> bool:
        return False  # a value typed into an admin form would travel through form state and logs

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a new version is a new row; rows are immutable
