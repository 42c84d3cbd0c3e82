"""Admin for communication: the provider configs (validated by the same input serializers as
the API, status changed only through the lifecycle) and the messages with their attempts,
every page scoped to the admin's tenants."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils import timezone
from django.utils.html import format_html_join

from communication.models import (
    DeliveryAttempt,
    ElksConfig,
    EmailMessage,
    Notification,
    PushNotification,
    SmsMessage,
    WhatsAppMessage,
)
from communication.services.sms import elks_webhook_token_ensure
from communication.specs import CONFIG_SPECS, ConfigSpec
from integrations.admin_scoping import TenantScopedAdmin
from integrations.errors import ApplicationError
from integrations.lifecycle import Status
from integrations.secrets.refs import is_ref
from integrations.services.integrations import integration_validate
from integrations.services.lifecycle import integration_transition

_LIFECYCLE_FIELDS = (
    "status",
    "status_reason",
    "status_changed_at",
    "last_validated_at",
    "last_validation_passed",
    "last_validation_message",
    "created_at",
)
_SHARED_INPUT = {"display_name", "sandbox_mode", "quota_limit", "quota_period"}


class RefInput(forms.TextInput):
    """Shows a credential ref, but never re-renders what is not one: a secret pasted by
    mistake is refused without being echoed back in the page."""

    def format_value(self, value):
        return super().format_value(value) if value and is_ref(value) else None


class ConfigAdminForm(forms.ModelForm):
    """Checks what the API checks: a pasted secret, an unknown country or a second Twilio
    sender is a form error here too."""

    spec: ConfigSpec

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant") or getattr(self.instance, "tenant", None)
        creating = self.instance.pk is None
        names = [name for name in self.spec.input_serializer.Meta.fields if name in self.fields]
        data = {
            name: cleaned[name] for name in names if name in cleaned and cleaned[name] is not None
        }
        serializer = self.spec.input_serializer(
            None if creating else self.instance,
            data=data,
            partial=not creating,
            context={"spec": self.spec, "tenant": tenant},
        )
        if serializer.is_valid():
            cleaned.update({k: v for k, v in serializer.validated_data.items() if k in self.fields})
        else:
            for name, errors in serializer.errors.items():
                self.add_error(
                    name if name in self.fields else None, [str(error) for error in errors]
                )
        return cleaned


def config_admin(spec: ConfigSpec) -> type[TenantScopedAdmin]:
    specific = [
        name
        for name in spec.input_serializer.Meta.fields
        if name not in _SHARED_INPUT | {"provider", "capabilities"}
    ]
    # No Meta: the admin builds the form's fields itself, with its overrides.
    form = type(f"{spec.model.__name__}AdminForm", (ConfigAdminForm,), {"spec": spec})

    class ConfigAdmin(TenantScopedAdmin):
        list_display = (
            "display_name",
            "tenant",
            "status",
            "sandbox_mode",
            "last_validation_passed",
            "created_at",
        )
        list_filter = ("status", "sandbox_mode")
        search_fields = ("display_name",)
        readonly_fields = _LIFECYCLE_FIELDS
        formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
        fieldsets = (
            (
                None,
                {
                    "fields": (
                        "tenant",
                        "display_name",
                        "sandbox_mode",
                        "quota_limit",
                        "quota_period",
                    )
                },
            ),
            (spec.label, {"fields": specific}),
            ("Lifecycle", {"fields": _LIFECYCLE_FIELDS}),
        )
        actions = ["validate", "activate", "pause", "resume", "decommission"]

        def formfield_for_dbfield(self, db_field, request, **kwargs):
            if db_field.name.endswith("_ref"):
                kwargs["widget"] = RefInput(attrs={"class": "vTextField"})
            return super().formfield_for_dbfield(db_field, request, **kwargs)

        def has_change_permission(self, request, obj=None) -> bool:
            if obj is not None and obj.status == Status.DECOMMISSIONED:
                return False  # terminal: shown, never changed
            return super().has_change_permission(request, obj)

        def save_model(self, request, obj, form, change):
            if change and form.changed_data:
                obj.config_changed_at = timezone.now()  # an earlier validation no longer counts
            if not change:
                obj.family, obj.provider = spec.slug, spec.provider
            super().save_model(request, obj, form, change)
            if isinstance(obj, ElksConfig):
                elks_webhook_token_ensure(config=obj)

        def _each(self, request, queryset, act, done: str) -> None:
            failed = []
            for config in queryset:
                try:
                    act(config)
                except ApplicationError as exc:
                    failed.append(f"{config.display_name}: {exc.detail}")
            if failed:
                self.message_user(request, "; ".join(failed), messages.WARNING)
            else:
                self.message_user(request, done, messages.SUCCESS)

        @admin.action(description="Validate (a real pre-flight call)")
        def validate(self, request, queryset):
            actor = f"admin:{request.user.get_username()}"
            for config in queryset:
                try:
                    run = integration_validate(integration=config, actor=actor)
                except ApplicationError as exc:
                    self.message_user(
                        request, f"{config.display_name}: {exc.detail}", messages.WARNING
                    )
                    continue
                self.message_user(
                    request,
                    f"{config.display_name}: {run.message}",
                    messages.SUCCESS if run.passed else messages.WARNING,
                )

        def _transition(self, request, queryset, action: str) -> None:
            actor = f"admin:{request.user.get_username()}"
            self._each(
                request,
                queryset,
                lambda config: integration_transition(
                    integration=config, action=action, actor=actor
                ),
                f"{action}: done",
            )

        @admin.action(description="Activate")
        def activate(self, request, queryset):
            self._transition(request, queryset, "activate")

        @admin.action(description="Pause (messages wait until resumed)")
        def pause(self, request, queryset):
            self._transition(request, queryset, "pause")

        @admin.action(description="Resume")
        def resume(self, request, queryset):
            self._transition(request, queryset, "resume")

        @admin.action(description="Decommission (final)")
        def decommission(self, request, queryset):
            self._transition(request, queryset, "decommission")

    ConfigAdmin.form = form
    ConfigAdmin.__name__ = f"{spec.model.__name__}Admin"
    return ConfigAdmin


for _spec in CONFIG_SPECS.values():
    admin.site.register(_spec.model, config_admin(_spec))


class MessageAdmin(TenantScopedAdmin):
    """Messages are written by the send services only; the admin reads them."""

    kind = ""
    list_filter = ("status", "provider")
    date_hierarchy = "created_at"
    exclude = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "tenant"] + [
            "delivery_attempts"
        ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Delivery attempts")
    def delivery_attempts(self, obj):
        rows = DeliveryAttempt.objects.filter(
            tenant_id=obj.tenant_id, message_kind=self.kind, message_id=obj.pk
        )
        return (
            format_html_join(
                "\n",
                "<div>{} · {} · {} · {} ms {}</div>",
                (
                    (
                        row.created_at.isoformat(timespec="seconds"),
                        row.provider,
                        row.outcome,
                        row.latency_ms,
                        row.error,
                    )
                    for row in rows
                ),
            )
            or "none yet"
        )


@admin.register(EmailMessage)
class EmailMessageAdmin(MessageAdmin):
    kind = DeliveryAttempt.Kind.EMAIL
    list_display = (
        "subject",
        "status",
        "provider",
        "provider_message_id",
        "open_count",
        "click_count",
        "created_at",
    )
    search_fields = ("subject", "provider_message_id", "idempotency_key")


@admin.register(SmsMessage)
class SmsMessageAdmin(MessageAdmin):
    kind = DeliveryAttempt.Kind.SMS
    list_display = (
        "to",
        "status",
        "provider",
        "segments",
        "cost_amount",
        "cost_currency",
        "created_at",
    )
    list_filter = ("status", "provider", "direction")
    search_fields = ("to", "provider_message_id", "idempotency_key")


@admin.register(PushNotification)
class PushNotificationAdmin(MessageAdmin):
    kind = DeliveryAttempt.Kind.PUSH
    list_display = ("title", "status", "target_platform", "topic", "player_id", "error_code", "created_at")
    search_fields = ("title", "topic", "player_id", "provider_message_id", "idempotency_key")


@admin.register(WhatsAppMessage)
class WhatsAppMessageAdmin(MessageAdmin):
    kind = DeliveryAttempt.Kind.WHATSAPP
    list_display = ("to", "message_type", "template_name", "status", "direction", "read_at", "created_at")
    list_filter = ("status", "direction", "message_type")
    search_fields = ("to", "template_name", "provider_message_id", "idempotency_key")


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin):
    """Fan-outs are made through the API only; the admin reads them."""

    list_display = ("idempotency_key", "channels", "recipient_count", "message_count", "created_by",
                    "created_at")
    search_fields = ("idempotency_key", "created_by")
    date_hierarchy = "created_at"
    exclude = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Notification._meta.fields if f.name != "tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(TenantScopedAdmin):
    list_display = (
        "message_kind",
        "message_id",
        "provider",
        "outcome",
        "status_code",
        "latency_ms",
        "created_at",
    )
    list_filter = ("message_kind", "provider", "outcome")
    search_fields = ("message_id",)
    exclude = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in DeliveryAttempt._meta.fields if f.name != "tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
