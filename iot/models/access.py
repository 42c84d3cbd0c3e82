"""Members, their court access sessions and what they consumed during them."""
from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from integrations.models import TenantOwned

from .devices import Court, Device


class Member(TenantOwned):
    """A club member who may enter courts. The CRM sync fills these by `external_id`; the API and
    admin can create them directly."""

    external_id = models.CharField(max_length=100, blank=True, help_text="The member's id in the CRM.")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    rfid_card_id = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    credits = models.PositiveIntegerField(default=0)
    membership_type = models.CharField(max_length=64, blank=True)
    membership_valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], condition=~Q(external_id=""),
                                    name="iot_member_tenant_external_uniq"),
            models.UniqueConstraint(fields=["tenant", "rfid_card_id"], condition=~Q(rfid_card_id=""),
                                    name="iot_member_tenant_card_uniq"),
            models.CheckConstraint(condition=Q(credits__gte=0), name="iot_member_credits_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SessionStatus(models.TextChoices):
    ACTIVE = "active", "Checked in"
    CLOSED = "closed", "Checked out"


class AccessSession(TenantOwned):
    """A member's stay on a court, from check-in to check-out, mirrored with Ziggy's session."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="sessions")
    court = models.ForeignKey(Court, on_delete=models.PROTECT, related_name="sessions")
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    external_session_id = models.CharField(max_length=100, blank=True, help_text="Ziggy's session id.")
    status = models.CharField(max_length=8, choices=SessionStatus.choices, default=SessionStatus.ACTIVE,
                              db_index=True)
    checked_in_at = models.DateTimeField()
    checked_out_at = models.DateTimeField(null=True, blank=True)
    consumption_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["-checked_in_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_session_id"], condition=~Q(external_session_id=""),
                                    name="iot_session_tenant_external_uniq"),
            # A member is on a court at most once at a time; a second scan finds the open session.
            models.UniqueConstraint(fields=["tenant", "member", "court"], condition=Q(status="active"),
                                    name="iot_session_one_active_per_member_court"),
        ]
        indexes = [models.Index(fields=["tenant", "court", "status"])]


class ConsumptionRecord(TenantOwned):
    """Something a member bought during a session (drinks, equipment), as Ziggy recorded it."""

    session = models.ForeignKey(AccessSession, on_delete=models.CASCADE, related_name="consumptions")
    external_id = models.CharField(max_length=100, blank=True, help_text="Ziggy's consumption id.")
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], condition=~Q(external_id=""),
                                    name="iot_consumption_tenant_external_uniq"),
        ]
