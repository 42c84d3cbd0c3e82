"""Admin of court operations, every page scoped to the admin's tenants: members, courts and
devices are edited here; sessions, clips and streams are read (they change through devices,
Ziggy and Mux); the Ziggy config is checked by the API's own input serializer and changes
status only through the lifecycle."""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from integrations.admin_scoping import TenantScopedAdmin
from integrations.errors import ApplicationError
from integrations.lifecycle import Status
from integrations.services.integrations import integration_validate
from integrations.services.lifecycle import integration_transition
from iot.families import SPEC as ZIGGY_SPEC
from iot.models import (
    AccessSession,
    ConsumptionRecord,
    Court,
    Device,
    HighlightClip,
    LiveStream,
    Member,
    ProcessedMqttMessage,
    ZiggyIntegration,
)


class ReadOnlyAdmin(TenantScopedAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Member)
class MemberAdmin(TenantScopedAdmin):
    list_display = ("__str__", "external_id", "rfid_card_id", "is_active", "credits", "membership_type",
                    "membership_valid_until")
    list_filter = ("is_active", "membership_type")
    search_fields = ("first_name", "last_name", "email", "external_id", "rfid_card_id")


@admin.register(Court)
class CourtAdmin(TenantScopedAdmin):
    list_display = ("code", "name", "ziggy_court_id", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")


@admin.register(Device)
class DeviceAdmin(TenantScopedAdmin):
    list_display = ("external_id", "kind", "court", "status", "last_seen_at", "battery_percent", "firmware_version")
    list_filter = ("kind", "status")
    search_fields = ("external_id", "name")
    readonly_fields = ("status", "last_seen_at", "battery_percent", "firmware_version")


class ConsumptionInline(admin.TabularInline):
    model = ConsumptionRecord
    fields = ("description", "quantity", "unit_price", "amount", "currency", "recorded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AccessSession)
class AccessSessionAdmin(ReadOnlyAdmin):
    list_display = ("member", "court", "status", "checked_in_at", "checked_out_at", "consumption_total")
    list_filter = ("status",)
    search_fields = ("external_session_id", "member__first_name", "member__last_name")
    inlines = [ConsumptionInline]
    exclude = ("tenant",)


@admin.register(LiveStream)
class LiveStreamAdmin(ReadOnlyAdmin):
    list_display = ("court", "provider_stream_id", "status", "started_at", "ended_at")
    list_filter = ("status",)
    exclude = ("tenant", "stream_key_ref")


@admin.register(HighlightClip)
class HighlightClipAdmin(ReadOnlyAdmin):
    list_display = ("live_stream", "pressed_at", "status", "provider_asset_id", "playback_id")
    list_filter = ("status",)
    exclude = ("tenant",)


@admin.register(ProcessedMqttMessage)
class ProcessedMqttMessageAdmin(ReadOnlyAdmin):
    list_display = ("device_external_id", "message_id", "topic", "outcome", "created_at")
    list_filter = ("outcome",)
    search_fields = ("device_external_id", "message_id")
    exclude = ("tenant",)


class ZiggyIntegrationForm(forms.ModelForm):
    """Checks what the API checks: a pasted secret in a `*_ref` field is a form error here too."""

    class Meta:
        model = ZiggyIntegration
        fields = ("tenant", "display_name", "sandbox_mode", "quota_limit", "quota_period", "client_id",
                  "api_base_url", "timeout_seconds", "api_key_ref", "webhook_signing_key_ref")

    def clean(self):
        cleaned = super().clean()
        creating = self.instance.pk is None
        names = [name for name in ZIGGY_SPEC.input_serializer.Meta.fields if name in self.fields]
        data = {name: cleaned[name] for name in names if cleaned.get(name) is not None}
        if creating:
            data["provider"] = "ziggy"
        serializer = ZIGGY_SPEC.input_serializer(None if creating else self.instance, data=data, partial=not creating,
                                                 context={"spec": ZIGGY_SPEC, "tenant": cleaned.get("tenant")})
        if serializer.is_valid():
            cleaned.update({k: v for k, v in serializer.validated_data.items() if k in self.fields})
        else:
            for name, errors in serializer.errors.items():
                self.add_error(name if name in self.fields else None, [str(error) for error in errors])
            refused_refs = [name for name in serializer.errors if name.endswith("_ref") and name in self.data]
            if refused_refs:
                # What was refused may be a pasted secret: never render it back into the page.
                self.data = self.data.copy()
                for name in refused_refs:
                    self.data[name] = ""
        return cleaned


@admin.register(ZiggyIntegration)
class ZiggyIntegrationAdmin(TenantScopedAdmin):
    form = ZiggyIntegrationForm
    list_display = ("display_name", "tenant", "status", "client_id", "last_validation_passed", "created_at")
    list_filter = ("status",)
    readonly_fields = ("status", "status_reason", "last_validated_at", "last_validation_passed",
                       "last_validation_message")
    actions = ["validate", "activate", "pause", "resume", "decommission"]

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status == Status.DECOMMISSIONED:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change and form.changed_data:
            obj.config_changed_at = timezone.now()  # an earlier validation no longer counts
        if not change:
            obj.family, obj.provider = ZIGGY_SPEC.slug, "ziggy"
        super().save_model(request, obj, form, change)

    @admin.action(description="Validate (a real pre-flight call)")
    def validate(self, request, queryset):
        actor = f"admin:{request.user.get_username()}"
        for config in queryset:
            run = integration_validate(integration=config, actor=actor)
            self.message_user(request, f"{config.display_name}: {run.message}",
                              messages.SUCCESS if run.passed else messages.WARNING)

    def _transition(self, request, queryset, action: str) -> None:
        actor = f"admin:{request.user.get_username()}"
        for config in queryset:
            try:
                integration_transition(integration=config, action=action, actor=actor)
            except ApplicationError as exc:
                self.message_user(request, f"{config.display_name}: {exc.detail}", messages.WARNING)
            else:
                self.message_user(request, f"{config.display_name}: {action} done", messages.SUCCESS)

    @admin.action(description="Activate")
    def activate(self, request, queryset):
        self._transition(request, queryset, "activate")

    @admin.action(description="Pause")
    def pause(self, request, queryset):
        self._transition(request, queryset, "pause")

    @admin.action(description="Resume")
    def resume(self, request, queryset):
        self._transition(request, queryset, "resume")

    @admin.action(description="Decommission (final)")
    def decommission(self, request, queryset):
        self._transition(request, queryset, "decommission")
