"""Record kinds a run pushes: where their rows come from, what of them is hashed, and the
document an adapter receives.

The content hash covers the hub record only (not the account mapping), so a run is
incremental: a record whose hash equals the one in the sync log is skipped. Querysets are
ordered by primary key and iterated in chunks by the engine, never loaded whole.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from adapters.sync_types import (
    Document,
    Enrollment,
    InvoiceLine,
    InvoicePayment,
    JournalEntry,
    JournalLine,
    MemberRecord,
    Party,
    SalesInvoice,
    money,
)
from sync.models import CourseEnrollment, Expense, Invoice, InvoiceLine as InvoiceLineRow, InvoicePayment as PaymentRow
from sync.models import Reimbursement, SyncRun


class RecordRejected(Exception):
    """The record cannot be pushed as it is (an unmapped category, an unsynced invoice): a
    permanent per-record failure, fixed in the hub, never retried by the provider call."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Context:
    """What building a document needs besides the record: the integration's mapping and a
    way to find the provider id of an earlier pushed record."""

    mapping: dict
    remote_id_of: Callable[[str, str], str | None]  # (record_type, record_id) -> provider id
    learner_id: Callable[[object], str] = str
    course_id: Callable[[str], str | None] = lambda code: None

    def account(self, category: str, *, what: str) -> str:
        account = self.mapping.get(category)
        if not account:
            raise RecordRejected(f"{what}: category '{category}' has no account in the chart-of-accounts mapping",
                                 code="unmapped_category")
        return str(account)


@dataclass(frozen=True)
class Kind:
    record_type: str
    queryset: Callable[[SyncRun], QuerySet]
    content: Callable[[object], dict]
    document: Callable[[object, Context], Document]
    reference: Callable[[object], str]


def _limited(queryset: QuerySet, run: SyncRun) -> QuerySet:
    queryset = queryset.filter(tenant_id=run.tenant_id)
    if run.record_ids:
        queryset = queryset.filter(pk__in=run.record_ids)
    return queryset.order_by("pk")


# --- invoices ------------------------------------------------------------------------------

def _invoices(run: SyncRun) -> QuerySet:
    lines = Prefetch("lines", queryset=InvoiceLineRow.objects.order_by("position"))
    return _limited(Invoice.objects.all(), run).prefetch_related(lines)


def _invoice_content(invoice: Invoice) -> dict:
    return {"number": invoice.number, "customer": [invoice.customer_number, invoice.customer_name,
                                                   invoice.customer_email, invoice.customer_organisation_number],
            "dates": [invoice.issue_date, invoice.due_date], "currency": invoice.currency,
            "lines": [[line.description, line.category, str(line.quantity), str(line.unit_price),
                       str(line.vat_rate)] for line in invoice.lines.all()]}


def _invoice_document(invoice: Invoice, context: Context) -> SalesInvoice:
    lines = tuple(InvoiceLine(description=line.description,
                              account=context.account(line.category, what=f"line {line.position}"),
                              quantity=line.quantity, unit_price=line.unit_price, vat_rate=line.vat_rate)
                  for line in invoice.lines.all())
    if not lines:
        raise RecordRejected("the invoice has no lines", code="empty_invoice")
    return SalesInvoice(reference=invoice.number, customer=_customer(invoice), issue_date=invoice.issue_date,
                        due_date=invoice.due_date, currency=invoice.currency, lines=lines,
                        receivables_account=str(context.mapping.get("receivables", "")),
                        vat_output_account=str(context.mapping.get("vat_output", "")))


def _customer(invoice: Invoice) -> Party:
    return Party(number=invoice.customer_number, name=invoice.customer_name, email=invoice.customer_email,
                 organisation_number=invoice.customer_organisation_number)


# --- payments --------------------------------------------------------------------------------

def _payments(run: SyncRun) -> QuerySet:
    return _limited(PaymentRow.objects.select_related("invoice"), run)


def _payment_content(payment: PaymentRow) -> dict:
    return {"reference": payment.reference, "invoice": str(payment.invoice_id), "amount": str(payment.amount),
            "currency": payment.currency, "paid_on": payment.paid_on}


def _payment_document(payment: PaymentRow, context: Context) -> InvoicePayment:
    invoice_remote_id = context.remote_id_of("invoice", str(payment.invoice_id))
    if not invoice_remote_id:
        raise RecordRejected(f"invoice {payment.invoice.number} has not been pushed yet; it goes first",
                             code="invoice_not_synced")
    return InvoicePayment(reference=payment.reference, invoice_reference=payment.invoice.number,
                          invoice_remote_id=invoice_remote_id, customer=_customer(payment.invoice),
                          amount=payment.amount, currency=payment.currency, paid_on=payment.paid_on,
                          bank_account=context.account("bank", what="payment"),
                          receivables_account=str(context.mapping.get("receivables", "")))


# --- expenses and reimbursements ---------------------------------------------------------------

def _expenses(run: SyncRun) -> QuerySet:
    return _limited(Expense.objects.all(), run)


def _expense_content(expense: Expense) -> dict:
    return {"reference": expense.reference, "description": expense.description, "category": expense.category,
            "amount": str(expense.amount), "vat_rate": str(expense.vat_rate), "currency": expense.currency,
            "incurred_on": expense.incurred_on, "payee": [expense.payee_name, expense.payee_number]}


def _journal(*, reference: str, kind: str, description: str, entry_date, currency: str, cost_account: str,
             net: Decimal, vat_rate: Decimal, context: Context, credit_category: str,
             payee: Party | None) -> JournalEntry:
    """Cost (net) and input VAT on the debit side, the full amount credited to bank or payables."""
    vat = money(net * vat_rate / 100)
    lines = [JournalLine(account=cost_account, debit=money(net), description=description, vat_rate=vat_rate)]
    if vat:
        lines.append(JournalLine(account=context.account("vat_input", what=kind), debit=vat, description="VAT",
                                 is_vat=True))
    lines.append(JournalLine(account=context.account(credit_category, what=kind), credit=money(net) + vat,
                             description=description))
    return JournalEntry(reference=reference, kind=kind, description=description, entry_date=entry_date,
                        currency=currency, lines=tuple(lines), payee=payee)


def _expense_document(expense: Expense, context: Context) -> JournalEntry:
    payee = Party(number=expense.payee_number, name=expense.payee_name) if expense.payee_name else None
    return _journal(reference=expense.reference, kind="expense", description=expense.description,
                    entry_date=expense.incurred_on, currency=expense.currency,
                    cost_account=context.account(expense.category, what="expense"), net=expense.amount,
                    vat_rate=expense.vat_rate, context=context, credit_category="bank", payee=payee)


def _reimbursements(run: SyncRun) -> QuerySet:
    return _limited(Reimbursement.objects.filter(approved=True), run)


def _reimbursement_content(item: Reimbursement) -> dict:
    return {"reference": item.reference, "payee": [item.payee_name, item.payee_number], "member": item.member_id,
            "description": item.description, "category": item.category, "amount": str(item.amount),
            "vat_rate": str(item.vat_rate), "currency": item.currency, "incurred_on": item.incurred_on}


def _reimbursement_document(item: Reimbursement, context: Context) -> JournalEntry:
    # The amount was paid including VAT: split it back into net cost and input VAT.
    net = money(item.amount * 100 / (100 + item.vat_rate))
    entry = _journal(reference=item.reference, kind="reimbursement", description=item.description,
                     entry_date=item.incurred_on, currency=item.currency,
                     cost_account=context.account(item.category, what="reimbursement"), net=net,
                     vat_rate=item.vat_rate, context=context, credit_category="payables",
                     payee=Party(number=item.payee_number, name=item.payee_name))
    rounding = item.amount - entry.total
    if rounding:  # the split cannot always land on whole cents; the cost line takes the cent
        first = entry.lines[0]
        adjusted = JournalLine(account=first.account, debit=first.debit + rounding, description=first.description,
                               vat_rate=first.vat_rate, is_vat=first.is_vat)
        entry = JournalEntry(reference=entry.reference, kind=entry.kind, description=entry.description,
                             entry_date=entry.entry_date, currency=entry.currency,
                             lines=(adjusted, *entry.lines[1:]), payee=entry.payee)
    return entry


# --- members and enrolments ----------------------------------------------------------------------

MEMBER_FIELDS = ("first_name", "last_name", "email", "phone", "rfid_card_id", "is_active", "credits",
                 "membership_type", "membership_valid_until")


def member_content(member) -> dict:
    return {name: getattr(member, name) for name in MEMBER_FIELDS}


def _members(run: SyncRun) -> QuerySet:
    from iot.models import Member

    return _limited(Member.objects.all(), run)


def _member_document(member, context: Context) -> MemberRecord:
    fields = {name: value for name, value in member_content(member).items()}
    fields["membership_valid_until"] = member.membership_valid_until.isoformat() \
        if member.membership_valid_until else None
    return MemberRecord(reference=str(member.pk), fields=fields)


def _enrollments(run: SyncRun) -> QuerySet:
    return _limited(CourseEnrollment.objects.select_related("member"), run)


def _enrollment_content(item: CourseEnrollment) -> dict:
    return {"member": str(item.member_id), "course": item.course_code, "status": item.status,
            "enrolled_on": item.enrolled_on, "completed_on": item.completed_on}


def _enrollment_document(item: CourseEnrollment, context: Context) -> Enrollment:
    course_id = context.course_id(item.course_code)
    if not course_id:
        raise RecordRejected(f"course {item.course_code} has no id in the integration's course mapping",
                             code="unmapped_course")
    learner_id = context.learner_id(item.member)
    if not learner_id:
        raise RecordRejected("the member has no learner id for this learning system", code="no_learner_id")
    member = item.member
    return Enrollment(reference=str(item.pk), learner_id=learner_id, course_id=course_id, status=item.status,
                      enrolled_on=item.enrolled_on, completed_on=item.completed_on,
                      learner_name=f"{member.first_name} {member.last_name}".strip(), learner_email=member.email)


KINDS: dict[str, Kind] = {kind.record_type: kind for kind in (
    Kind("invoice", _invoices, _invoice_content, _invoice_document, lambda row: row.number),
    Kind("payment", _payments, _payment_content, _payment_document, lambda row: row.reference),
    Kind("expense", _expenses, _expense_content, _expense_document, lambda row: row.reference),
    Kind("reimbursement", _reimbursements, _reimbursement_content, _reimbursement_document,
         lambda row: row.reference),
    Kind("member", _members, member_content, _member_document, lambda row: str(row.pk)),
    Kind("enrollment", _enrollments, _enrollment_content, _enrollment_document, lambda row: str(row.pk)),
)}

# What each run scope covers, in push order (payments need their invoices first).
SCOPES: dict[str, tuple[str, ...]] = {
    "accounting": ("invoice", "payment", "expense", "reimbursement"),
    "invoices": ("invoice",),
    "payments": ("payment",),
    "expenses": ("expense",),
    "reimbursements": ("reimbursement",),
    "members": ("member",),
    "enrollments": ("enrollment",),
}
