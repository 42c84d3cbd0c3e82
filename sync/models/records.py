"""The hub's own records a sync pushes out: invoices, payments, expenses, reimbursements and
course enrolments. Minimal on purpose: what an accounting, ERP or learning system needs."""
from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from integrations.models import TenantOwned

_MONEY = {"max_digits": 14, "decimal_places": 2}


class Invoice(TenantOwned):
    """An invoice the federation or club issued. `number` is its reference everywhere."""

    number = models.CharField(max_length=40)
    customer_number = models.CharField(max_length=40, help_text="The customer's number in the accounting system.")
    customer_name = models.CharField(max_length=200)
    customer_email = models.EmailField(blank=True)
    customer_organisation_number = models.CharField(max_length=40, blank=True)
    issue_date = models.DateField()
    due_date = models.DateField()
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="sync_invoice_tenant_number_uniq")]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    description = models.CharField(max_length=300)
    category = models.CharField(max_length=40, help_text="Booking category, mapped to an account per integration.")
    quantity = models.DecimalField(max_digits=12, decimal_places=3, validators=[MinValueValidator(Decimal("0"))])
    unit_price = models.DecimalField(**_MONEY, help_text="Excluding VAT.")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent, e.g. 25.")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="sync_invoice_line_position_uniq")]


class InvoicePayment(TenantOwned):
    """A payment received against an invoice."""

    reference = models.CharField(max_length=40)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**_MONEY)
    currency = models.CharField(max_length=3)
    paid_on = models.DateField()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "reference"], name="sync_payment_tenant_ref_uniq")]


class Expense(TenantOwned):
    """Money the organisation spent, paid from its bank account."""

    reference = models.CharField(max_length=40)
    description = models.CharField(max_length=300)
    category = models.CharField(max_length=40)
    amount = models.DecimalField(**_MONEY, help_text="Excluding VAT.")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3)
    incurred_on = models.DateField()
    payee_name = models.CharField(max_length=200, blank=True)
    payee_number = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "reference"], name="sync_expense_tenant_ref_uniq")]


class Reimbursement(TenantOwned):
    """An outlay a member or volunteer made for the organisation; only approved ones are booked."""

    reference = models.CharField(max_length=40)
    member = models.ForeignKey("iot.Member", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    payee_name = models.CharField(max_length=200)
    payee_number = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=300)
    category = models.CharField(max_length=40)
    amount = models.DecimalField(**_MONEY, help_text="Including VAT, as paid.")
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3)
    incurred_on = models.DateField()
    approved = models.BooleanField(default=False)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "reference"],
                                               name="sync_reimbursement_tenant_ref_uniq")]


class EnrollmentStatus(models.TextChoices):
    ENROLLED = "enrolled", "Enrolled"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class CourseEnrollment(TenantOwned):
    """A member's place on a course (coach, referee or leader education)."""

    member = models.ForeignKey("iot.Member", on_delete=models.CASCADE, related_name="+")
    course_code = models.CharField(max_length=60)
    course_title = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ENROLLED)
    enrolled_on = models.DateField()
    completed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "member", "course_code"],
                                               name="sync_enrollment_member_course_uniq")]
