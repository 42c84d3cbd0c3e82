"""Writes of the hub's own records the sync pushes: invoices with lines, payments, expenses,
reimbursements (and their approval), course enrolments; and exportReimbursements."""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.errors import ApplicationError, Conflict
from integrations.models import Integration
from sync.models import (
    CourseEnrollment,
    Expense,
    Invoice,
    InvoiceLine,
    InvoicePayment,
    Reimbursement,
    RunTrigger,
    SyncRun,
)
from sync.services.runs import sync_trigger

logger = logging.getLogger(__name__)


def _unique(create, what: str, field: str):
    try:
        with transaction.atomic():
            return create()
    except IntegrityError:
        raise Conflict(f"{what} with this {field} already exists", code="duplicate",
                       extra={"errors": {field: ["already used"]}}) from None


def invoice_create(*, tenant, data: dict, actor: str) -> Invoice:
    lines = data.pop("lines")

    def create() -> Invoice:
        invoice = Invoice.objects.create(tenant=tenant, **data)
        InvoiceLine.objects.bulk_create([InvoiceLine(invoice=invoice, position=position, **line)
                                         for position, line in enumerate(lines, start=1)])
        return invoice

    invoice = _unique(create, "an invoice", "number")
    logger.info("invoice created", extra={"invoice_id": str(invoice.pk), "actor": actor})
    return invoice


def payment_create(*, tenant, data: dict, actor: str) -> InvoicePayment:
    invoice = Invoice.objects.filter(tenant=tenant, pk=data.pop("invoice_id")).first()
    if invoice is None:
        raise ApplicationError("no such invoice", extra={"errors": {"invoice_id": ["unknown invoice"]}})
    if data["currency"] != invoice.currency:
        raise ApplicationError(f"the invoice is in {invoice.currency}",
                               extra={"errors": {"currency": [f"must be the invoice's currency {invoice.currency}"]}})
    return _unique(lambda: InvoicePayment.objects.create(tenant=tenant, invoice=invoice, **data), "a payment",
                   "reference")


def expense_create(*, tenant, data: dict, actor: str) -> Expense:
    return _unique(lambda: Expense.objects.create(tenant=tenant, **data), "an expense", "reference")


def reimbursement_create(*, tenant, data: dict, actor: str) -> Reimbursement:
    from iot.models import Member

    member_id = data.pop("member_id", None)
    member = None
    if member_id is not None:
        member = Member.objects.filter(tenant=tenant, pk=member_id).first()
        if member is None:
            raise ApplicationError("no such member", extra={"errors": {"member_id": ["unknown member"]}})
    return _unique(lambda: Reimbursement.objects.create(tenant=tenant, member=member, **data), "a reimbursement",
                   "reference")


def reimbursement_approve(*, reimbursement: Reimbursement, actor: str) -> Reimbursement:
    with transaction.atomic():
        locked = Reimbursement.objects.select_for_update().get(pk=reimbursement.pk)
        if not locked.approved:
            locked.approved, locked.approved_at, locked.approved_by = True, timezone.now(), actor[:200]
            locked.save(update_fields=["approved", "approved_at", "approved_by", "updated_at"])
    return locked


def enrollment_create(*, tenant, data: dict, actor: str) -> CourseEnrollment:
    from iot.models import Member

    member = Member.objects.filter(tenant=tenant, pk=data.pop("member_id")).first()
    if member is None:
        raise ApplicationError("no such member", extra={"errors": {"member_id": ["unknown member"]}})
    return _unique(lambda: CourseEnrollment.objects.create(tenant=tenant, member=member, **data),
                   "an enrolment of this member on this course", "course_code")


def reimbursements_export(*, tenant, integration: Integration, reimbursement_ids: list, actor: str,
                          trigger: str = RunTrigger.API) -> SyncRun:
    """exportReimbursements: a run over exactly these reimbursements, which must be approved."""
    ids = list(dict.fromkeys(str(i) for i in reimbursement_ids))
    found = dict(Reimbursement.objects.filter(tenant=tenant, pk__in=ids).values_list("pk", "approved"))
    found = {str(pk): approved for pk, approved in found.items()}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise ApplicationError(f"unknown reimbursements: {', '.join(unknown)}",
                               extra={"errors": {"reimbursement_ids": [f"unknown: {', '.join(unknown)}"]}})
    unapproved = [i for i in ids if not found[i]]
    if unapproved:
        raise ApplicationError("only approved reimbursements are exported",
                               extra={"errors": {"reimbursement_ids": [f"not approved: {', '.join(unapproved)}"]}})
    return sync_trigger(tenant=tenant, integration=integration, scope="reimbursements", trigger=trigger,
                        actor=actor, record_ids=ids)
