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
    receivables_account: str = ""  # the mapping's "receivables", for providers booking vouchers

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


@dataclass(frozen=True)
class JournalEntry:
    """An expense or an approved reimbursement, booked as a balanced entry."""

    reference: str
    kind: str  # "expense" or "reimbursement"
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
