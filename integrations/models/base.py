from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.lifecycle import Status

from .tenancy import TenantOwned


class Family(models.TextChoices):
    PAYMENT_GATEWAYS = "payment-gateways", "Payment gateway"
    CALENDARS = "calendars", "Calendar"
    SOCIAL_MEDIA = "social-media", "Social media"
    STREAMING = "streaming", "Streaming"
    MAPPING = "mapping", "Mapping"
    WADA_ADAMS = "wada-adams", "WADA ADAMS"
    INSURANCE = "insurance", "Insurance"
    GOV_REGISTRIES = "gov-registries", "Government sports registry"
    ACCOUNTING = "accounting", "Accounting"
    COMMUNICATION = "communication", "Communication"
    ACCESS_CONTROL = "access-control", "Access control"
    SYNC = "sync", "Back-office sync"
    CRM = "crm", "CRM"
    LMS = "lms", "Learning management"
    ERP = "erp", "ERP (third-party)"


class QuotaPeriod(models.TextChoices):
    DAY = "day", "Per day"
    MONTH = "month", "Per month"


class Integration(TenantOwned):
    """What every integration and communication config shares: lifecycle, sandbox mode,
    capability flags, quota and validation state. Families subclass it (multi-table), so
    transitions, usage, dead letters and webhooks point at one table."""

    family = models.CharField(max_length=32, choices=Family.choices, db_index=True)
    provider = models.CharField(max_length=40, db_index=True)
    display_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in Status],
                              default=Status.DRAFT.value, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)
    sandbox_mode = models.BooleanField(default=True)
    capabilities = models.JSONField(default=dict, blank=True)
    quota_limit = models.PositiveIntegerField(null=True, blank=True)
    quota_period = models.CharField(max_length=8, choices=QuotaPeriod.choices, default=QuotaPeriod.MONTH)
    config_changed_at = models.DateTimeField(default=timezone.now)
    last_validated_at = models.DateTimeField(null=True, blank=True)
    last_validation_passed = models.BooleanField(null=True, blank=True)
    last_validation_message = models.CharField(max_length=1000, blank=True)
    consecutive_auth_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "family", "status"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.provider})"

    @property
    def validation_is_fresh(self) -> bool:
        return bool(self.last_validation_passed and self.last_validated_at
                    and self.last_validated_at >= self.config_changed_at)

    def specific(self) -> "Integration":
        """The family subclass row behind this integration (one level of inheritance).

        Each probe of a subclass is a query, and there are some twenty subclasses; the one
        that last matched this (family, provider) is tried first, so the usual cost is one."""
        if type(self) is not Integration:
            return self
        hint = _SPECIFIC_HINTS.get((self.family, self.provider))
        children = [related for related in self._meta.related_objects if related.parent_link]
        for related in sorted(children, key=lambda related: related.get_accessor_name() != hint):
            try:
                found = getattr(self, related.get_accessor_name())
            except related.related_model.DoesNotExist:
                continue
            _SPECIFIC_HINTS[(self.family, self.provider)] = related.get_accessor_name()
            return found
        return self


# (family, provider) -> the subclass accessor that held the last such integration. A hint
# only: two subclasses may share a pair (a WebhookSource receiving for a provider), and a miss
# falls back to probing the others.
_SPECIFIC_HINTS: dict[tuple[str, str], str] = {}


class LifecycleTransition(TenantOwned):
    """The audit trail: who moved which integration from what to what, when and why."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=16)
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    actor = models.CharField(max_length=200)
    reason = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at"]


class ValidationRun(TenantOwned):
    """One pre-flight validation: the provider call made and its outcome."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="validations")
    passed = models.BooleanField()
    message = models.CharField(max_length=1000)
    actor = models.CharField(max_length=200)
    latency_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
