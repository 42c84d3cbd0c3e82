"""The one mechanism by which every admin page shows a tenant admin only their tenant.

A staff user's tenants are those they hold a membership in; admins may write, members
only read. A superuser sees every tenant.
"""
from __future__ import annotations

import functools

from django import forms
from django.contrib import admin
from django.db import models

from integrations.models import Membership, Tenant


def admin_tenants(user, *, write: bool = False):
    if not user.is_active or not user.is_staff:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    memberships = Membership.objects.filter(user=user)
    if write:
        memberships = memberships.filter(role=Membership.Role.ADMIN)
    return Tenant.objects.filter(pk__in=memberships.values("tenant_id"))


class TenantScopedAdmin(admin.ModelAdmin):
    """Base of every tenant-owned model's admin. `tenant_lookup` names the path to the tenant."""

    tenant_lookup = "tenant"

    def _tenant_of(self, obj) -> Tenant | None:
        if self.tenant_lookup == "pk":
            return obj
        value = obj
        for part in self.tenant_lookup.split("__"):
            value = getattr(value, part, None)
        return value

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.tenant_lookup}__in": admin_tenants(request.user)})

    def _can_write(self, request, obj=None) -> bool:
        tenants = admin_tenants(request.user, write=True)
        if obj is None:
            return tenants.exists()
        tenant = self._tenant_of(obj)
        return tenant is not None and tenants.filter(pk=tenant.pk).exists()

    def has_module_permission(self, request) -> bool:
        return admin_tenants(request.user).exists()

    def has_view_permission(self, request, obj=None) -> bool:
        if obj is None:
            return admin_tenants(request.user).exists()
        tenant = self._tenant_of(obj)
        return tenant is not None and admin_tenants(request.user).filter(pk=tenant.pk).exists()

    def has_add_permission(self, request) -> bool:
        return self._can_write(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._can_write(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._can_write(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not request.user.is_superuser:
            writable = admin_tenants(request.user, write=True)
            if related is Tenant:
                kwargs["queryset"] = writable
                owns_tenant_field = db_field.name == self.tenant_lookup == "tenant"
                single = self._single_tenant(request) if owns_tenant_field else None
                if single is not None:
                    # Hidden and fixed (a disabled field ignores what is posted), yet kept in the
                    # form rather than excluded, so unique constraints that include the tenant
                    # are validated as form errors instead of failing at the database.
                    kwargs.update(initial=single, widget=forms.HiddenInput, disabled=True)
            elif any(f.name == "tenant" and f.related_model is Tenant for f in related._meta.fields):
                kwargs["queryset"] = related._default_manager.filter(tenant__in=writable)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_action(self, action):
        found = super().get_action(action)
        if found is None:
            return None
        func, name, description = found

        @functools.wraps(func)  # keeps allowed_permissions and the description
        def on_writable_rows_only(modeladmin, request, queryset):
            # An action receives the selected *visible* rows; a member's read-only tenants
            # are visible too, and must not be changed by it.
            if not request.user.is_superuser:
                writable = admin_tenants(request.user, write=True)
                queryset = queryset.filter(**{f"{self.tenant_lookup}__in": writable})
            return func(modeladmin, request, queryset)

        return on_writable_rows_only, name, description

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self._can_write(request):
            return actions
        # Read-only users keep only actions that declare their permissions (e.g. ["view"]).
        return {name: action for name, action in actions.items()
                if hasattr(action[0], "allowed_permissions")}

    def _single_tenant(self, request) -> Tenant | None:
        if request.user.is_superuser:
            return None
        tenants = list(admin_tenants(request.user, write=True)[:2])
        return tenants[0] if len(tenants) == 1 else None

    def save_model(self, request, obj, form, change):
        if self.tenant_lookup == "tenant" and not change and getattr(obj, "tenant_id", None) is None:
            obj.tenant = self._single_tenant(request)
        super().save_model(request, obj, form, change)


def tenant_owned_models() -> list[type[models.Model]]:
    """Every concrete model with a `tenant` FK: what the isolation tests walk."""
    from django.apps import apps

    return [m for m in apps.get_models()
            if not m._meta.abstract and any(f.name == "tenant" and f.related_model is Tenant
                                            for f in m._meta.fields)]
