from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from integrations.admin_scoping import TenantScopedAdmin
from integrations.secrets.errors import SecretRefInvalid
from integrations.secrets.refs import parse_ref
from integrations.selectors.integrations import integration_webhook_url
from webhooks.models import DeliveryAttempt, InboundEvent, WebhookDelivery, WebhookEndpoint, WebhookSource
from webhooks.receivers import SECRET_FIELDS
from webhooks.services.deliveries import delivery_replay
from webhooks.services.inbound import inbound_event_replay


@admin.register(InboundEvent)
class InboundEventAdmin(TenantScopedAdmin):
    list_display = ("provider", "vendor_type", "event_type", "subject_id", "status", "attempts", "occurred_at",
                    "created_at")
    list_filter = ("status", "provider", "event_type")
    search_fields = ("external_id", "subject_id")
    readonly_fields = ("integration", "provider", "external_id", "event_type", "vendor_type", "subject_id",
                       "occurred_at", "payload", "details", "status", "attempts", "last_error", "handled_at",
                       "next_attempt_at", "created_at")
    exclude = ("tenant",)
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False  # events come from providers only

    @admin.action(description="Replay the handlers of the selected events")
    def replay(self, request, queryset):
        handled = failed = 0
        for event in queryset:
            event = inbound_event_replay(event=event, actor=f"admin:{request.user.get_username()}")
            if event.status in (InboundEvent.Status.HANDLED, InboundEvent.Status.IGNORED):
                handled += 1
            else:
                failed += 1
        self.message_user(request, f"{handled} handled, {failed} failed again",
                          messages.SUCCESS if not failed else messages.WARNING)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    """Read-only here: endpoints are created through the API, which can show the new secret once."""

    list_display = ("url", "enabled", "signing_scheme", "failing_since", "last_success_at", "created_at")
    list_filter = ("enabled", "signing_scheme")
    readonly_fields = ("url", "description", "event_types", "enabled", "signing_scheme", "public_key",
                       "previous_secret_expires_at", "rate_limit_per_second", "disabled_reason", "disabled_at",
                       "failing_since", "last_success_at", "created_at")
    exclude = ("tenant", "secret_ref", "previous_secret_ref", "previous_public_key")

    def has_add_permission(self, request) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "status_code", "latency_ms", "error", "response_excerpt", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    list_display = ("event_type", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at",
                    "created_at")
    list_filter = ("status", "event_type")
    readonly_fields = ("endpoint", "event", "event_type", "message_id", "payload", "status", "attempts",
                       "next_attempt_at", "last_status_code", "last_error", "succeeded_at", "created_at")
    exclude = ("tenant",)
    inlines = [DeliveryAttemptInline]
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Send the selected deliveries again")
    def replay(self, request, queryset):
        count = 0
        for delivery in queryset:
            delivery_replay(delivery=delivery)
            count += 1
        self.message_user(request, f"{count} deliveries queued again", messages.SUCCESS)


class WebhookSourceForm(forms.ModelForm):
    """Credential fields take refs only: a pasted secret is refused, never stored or echoed."""

    class Meta:
        model = WebhookSource
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if name.endswith("_ref") and value:
                try:
                    parse_ref(value)
                except SecretRefInvalid as exc:
                    self.add_error(name, exc.detail)
                    self.data = self.data.copy()
                    self.data[name] = ""  # whatever was pasted is not shown back
        provider = cleaned.get("provider")
        if provider and provider not in SECRET_FIELDS:
            self.add_error("provider", f"choose one of: {', '.join(sorted(SECRET_FIELDS))}")
        return cleaned


@admin.register(WebhookSource)
class WebhookSourceAdmin(TenantScopedAdmin):
    form = WebhookSourceForm
    list_display = ("display_name", "provider", "status", "created_at")
    list_filter = ("provider", "status")
    readonly_fields = ("status", "status_reason", "status_changed_at", "webhook_url")
    exclude = ("tenant", "consecutive_auth_failures")

    @admin.display(description="Webhook URL (give this to the provider)")
    def webhook_url(self, obj) -> str:
        if obj is None or obj.pk is None:
            return ""
        return integration_webhook_url(integration=obj) or ""
