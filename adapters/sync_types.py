"""Plain documents the sync pushes to accounting, ERP, CRM and learning systems.

Adapters receive these (never Django models) and answer a `PushResult`. Amounts are Decimals
in currency units; VAT rates are percentages (25 means 25 %). Every document carries the
hub's `reference`: a stable, human-readable key unique per tenant and record kind, which
adapters send as the provider's external reference (Fortnox ExternalInvoiceReference1, Xero
Reference, QuickBooks DocNumber, ...) so a resumed run can look a document up before creating
it again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Party:
    """A customer (invoices) or payee (expenses, reimbursements). `number` is the party's
    number in the accounting system (Fortnox CustomerNumber, a QuickBooks Customer Id, ...)."""

    number: str
    name: str
    email: str = ""
    organisation_number: str = ""


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    account: str  # the chart-of-accounts mapping applied to the line's category
    quantity: Decimal
    unit_price: Decimal  # excluding VAT
    vat_rate: Decimal  # percent

    @property
    def net(self) -> Decimal:
        return money(self.quantity * self.unit_price)

    @property
    def vat(self) -> Decimal:
        return money(self.net * self.vat_rate / 100)


@dataclass(frozen=True)
class SalesInvoice:
    reference: str
    customer: Party
    issue_date: date
    due_date: date
    currency: str
    lines: tuple[InvoiceLine, ...]
    # The mapping's "receivables" and "vat_output": providers without an invoice API that
    # posts lines to accounts receive the invoice as a balanced entry (`as_journal`).
    receivables_account: str = ""
    vat_output_account: str = ""

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0"))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class InvoicePayment:
    """A payment received against an invoice the hub pushed earlier (`invoice_remote_id`)."""

    reference: str
    invoice_reference: str
    invoice_remote_id: str
    customer: Party
    amount: Decimal
    currency: str
    paid_on: date
    bank_account: str  # the mapping's "bank"
    receivables_account: str = ""


@dataclass(frozen=True)
class JournalLine:
    account: str
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    description: str = ""
    vat_rate: Decimal = Decimal("0")
    is_vat: bool = False  # the tax line itself, not a cost or revenue line


@dataclass(frozen=True)
class JournalEntry:
    """An expense or an approved reimbursement, booked as a balanced entry."""

    reference: str
    kind: str  # "expense" or "reimbursement" (or "invoice"/"payment" when booked as an entry)
    description: str
    entry_date: date
    currency: str
    lines: tuple[JournalLine, ...]
    payee: Party | None = None

    @property
    def balanced(self) -> bool:
        debit = sum((line.debit for line in self.lines), Decimal("0"))
        credit = sum((line.credit for line in self.lines), Decimal("0"))
        return debit == credit and debit > 0

    @property
    def total(self) -> Decimal:
        return sum((line.debit for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class MemberRecord:
    """A member as CRM and ERP systems receive it; `fields` are already mapped to the
    provider's names (Dataverse columns, the ERP interface's fields)."""

    reference: str  # the hub member id
    fields: dict


@dataclass(frozen=True)
class Enrollment:
    reference: str
    learner_id: str  # the learner's id in the LMS (email, employee id, ...)
    course_id: str  # the provider's course / learning object id
    status: str  # enrolled, completed, withdrawn
    enrolled_on: date
    completed_on: date | None = None
    learner_name: str = ""
    learner_email: str = ""


def invoice_as_journal(invoice: SalesInvoice) -> JournalEntry:
    """The invoice as a balanced entry: receivables debited with the total, each line's
    account credited with its net amount, output VAT credited with the tax."""
    lines = [JournalLine(account=invoice.receivables_account, debit=invoice.total,
                         description=f"{invoice.customer.name} {invoice.reference}")]
    lines += [JournalLine(account=line.account, credit=line.net, description=line.description,
                          vat_rate=line.vat_rate) for line in invoice.lines]
    if invoice.vat:
        lines.append(JournalLine(account=invoice.vat_output_account, credit=invoice.vat, description="VAT",
                                 is_vat=True))
    return JournalEntry(reference=invoice.reference, kind="invoice", description=f"Invoice {invoice.reference}",
                        entry_date=invoice.issue_date, currency=invoice.currency, lines=tuple(lines),
                        payee=invoice.customer)


def payment_as_journal(payment: InvoicePayment) -> JournalEntry:
    """The payment as a balanced entry: bank debited, receivables credited."""
    lines = (JournalLine(account=payment.bank_account, debit=payment.amount, description=payment.reference),
             JournalLine(account=payment.receivables_account, credit=payment.amount,
                         description=f"{payment.customer.name} {payment.invoice_reference}"))
    return JournalEntry(reference=payment.reference, kind="payment",
                        description=f"Payment {payment.reference} of invoice {payment.invoice_reference}",
                        entry_date=payment.paid_on, currency=payment.currency, lines=lines, payee=payment.customer)


Document = SalesInvoice | InvoicePayment | JournalEntry | MemberRecord | Enrollment


@dataclass(frozen=True)
class PushResult:
    remote_id: str
    created: bool = True
    remote_updated_at: datetime | None = None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteRecord:
    """A record read from a provider during a pull: its id, when it last changed there, and
    its fields in the hub's names."""

    remote_id: str
    updated_at: datetime
    fields: dict



class DocumentRejected(ValueError):
    """The adapter cannot express this document for its provider (an account the mapping
    lacks): refused before any request, so it is no provider error and counts no usage."""

    def __init__(self, message: str, *, code: str = "unmapped_category") -> None:
        super().__init__(message)
        self.message, self.code = message, code


def require_accounts(entry: JournalEntry) -> JournalEntry:
    """The entry, when every line has an account; otherwise DocumentRejected naming the line."""
    for line in entry.lines:
        if not line.account:
            side = "debit" if line.debit else "credit"
            raise DocumentRejected(f"the {side} line '{line.description}' has no account; map receivables, "
                                   "vat_output and bank for this provider")
    return entry
