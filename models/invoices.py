"""Invoices, their lines and the counter that numbers them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.audited import Created
from models.types import UTCDateTime, utcnow


class InvoiceSeries(SQLModel, table=True):
    """Gapless numbering: the row is locked and bumped inside the transaction that writes the invoice,
    so a rolled-back invoice gives its number back (a database sequence would not)."""

    __tablename__ = "invoice_series"

    prefix: str = Field(primary_key=True, max_length=20)
    next_number: int = 1


class Invoice(Created, table=True):
    __tablename__ = "invoice"
    __table_args__ = (
        # One live invoice per customer and period; a void one keeps its number and frees the slot.
        # Credit notes are not invoices: any number of them may exist for a customer and period.
        Index(
            "uq_invoice_customer_period_live",
            "customer_id",
            "period",
            unique=True,
            sqlite_where=text("status <> 'void' AND doc_type = 'invoice'"),
            postgresql_where=text("status <> 'void' AND doc_type = 'invoice'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="end_customer.id", index=True)
    period: str = Field(max_length=7, index=True, description="YYYY-MM billed")
    number: str = Field(max_length=40, unique=True)
    series: str = Field(max_length=20)
    sequence: int
    issue_date: date
    due_date: date
    status: str = Field(
        default="draft", max_length=16, index=True, description="draft|approved|sent|paid|void"
    )
    doc_type: str = Field(
        default="invoice",
        max_length=16,
        sa_column_kwargs={"server_default": "invoice"},
        description="invoice | credit_note (amounts signed as owed: a credit note's total is negative)",
    )
    # No foreign key on the two references below: adding one to a populated SQLite table means
    # rebuilding it, which invoice_line's own foreign key forbids; core.credit_notes writes them.
    credits_invoice_id: int | None = Field(
        default=None, description="the invoice a credit note credits, if one"
    )
    reason: str | None = Field(default=None, max_length=300, description="why a credit note was issued")
    currency: str = Field(default="AUD", max_length=3)
    subtotal: Decimal = Field(max_digits=14, decimal_places=2)
    tax: Decimal = Field(max_digits=14, decimal_places=2)
    total: Decimal = Field(max_digits=14, decimal_places=2)
    tax_rate: Decimal = Field(max_digits=6, decimal_places=4)
    tax_rounding: str = Field(max_length=32, description="how GST was rounded, e.g. per-invoice-half-up")
    payment_terms_days: int
    customer_name: str = Field(max_length=100, description="as billed, so a rename does not rewrite history")
    customer_email: str | None = Field(default=None, max_length=254)
    replaces_invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    send_claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    send_claim_token: str | None = Field(default=None, max_length=64)
    send_claimed_by: str | None = Field(default=None, max_length=100, description="host:pid of the sender")
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    sent_to: str | None = Field(default=None, max_length=600)
    message_id: str | None = Field(default=None, max_length=255)
    send_error: str | None = Field(default=None, max_length=1000)
    approved_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    approved_by: str | None = Field(default=None, max_length=64)
    sent_by: str | None = Field(default=None, max_length=64)
    held_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    held_by: str | None = Field(default=None, max_length=64)
    held_reason: str | None = Field(default=None, max_length=300)
    held_catch_up: Decimal | None = Field(
        default=None,
        max_digits=14,
        decimal_places=2,
        description="unbilled catch-up older than the back-billing horizon when this was billed",
    )
    paid_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int
    kind: str = Field(max_length=16, description="recurring | catch_up | credit | once_off | usage")
    source_id: int | None = None
    # The ledger (core.coverage): a line with a charge_id on a live document billed (or, with a
    # negative amount, credited) that charge's days period_start..period_end at this version.
    charge_id: int | None = Field(default=None, index=True)
    charge_version: int | None = None
    reason: str | None = Field(default=None, max_length=200, description="why: catch-up, credit reason")
    credits_line_id: int | None = Field(
        default=None, description="the invoice line a credit note line credits"
    )
    tax: Decimal | None = Field(
        default=None, max_digits=14, decimal_places=2, description="this line's GST as the books record it"
    )
    description: str = Field(max_length=300)
    quantity: Decimal = Field(max_digits=12, decimal_places=4)
    unit_price: Decimal = Field(max_digits=14, decimal_places=4)
    amount: Decimal = Field(max_digits=14, decimal_places=2, description="ex-GST, rounded once")
    # Internal (margin reporting), never rendered for the customer: see core.margins.
    unit_cost: Decimal | None = Field(default=None, max_digits=14, decimal_places=4)
    cost: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    service_id: int | None = None
    taxable: bool = True
    period_start: date | None = None
    period_end: date | None = None


class InvoiceExclusion(Created, table=True):
    """A service left off one period's invoice because it was flagged `exclude_next_invoice`.

    The flag on the service is a one-shot request; once the bill run has applied it to a period it
    is cleared and remembered here, so regenerating or reissuing that period's invoice (or rerunning
    the bill run) leaves the service off again instead of billing it after all.
    """

    __tablename__ = "invoice_exclusion"
    __table_args__ = (UniqueConstraint("service_id", "period", name="uq_invoice_exclusion_service_period"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="end_customer.id", index=True)
    service_id: int = Field(foreign_key="service.id")
    period: str = Field(max_length=7, description="YYYY-MM the service was left off")
