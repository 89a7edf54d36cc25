"""Xero: the connection (tokens), the shared call budget, the mapping settings, and what was pushed.

Kept in tables of their own, beside (not inside) invoices and customers, so the Xero side can be
dropped or reconnected without touching billing data.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class XeroConnection(SQLModel, table=True):
    """One row (id=1): the connected organisation and its tokens.

    The row is also the lock every replica takes before refreshing the token or spending from the
    call budget (SELECT ... FOR UPDATE on PostgreSQL; SQLite's single writer), which is what keeps
    a single-use refresh token from being spent twice.
    """

    __tablename__ = "xero_connection"

    id: int | None = Field(default=1, primary_key=True)
    kind: str = Field(max_length=16, description="custom (client credentials) | standard (auth code)")
    tenant_id: str | None = Field(default=None, max_length=64)
    tenant_name: str | None = Field(default=None, max_length=200)
    short_code: str | None = Field(default=None, max_length=20, description="for deep links into Xero")
    access_token: str | None = Field(default=None, max_length=4000)
    access_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    refresh_token: str | None = Field(default=None, max_length=400)
    refreshed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    token_error: str | None = Field(default=None, max_length=500, description="why the token can't be used")
    day_remaining: int | None = Field(default=None, description="X-DayLimit-Remaining last seen")
    day_remaining_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class XeroCall(SQLModel, table=True):
    """One API call spent (or being spent) from the organisation's budget, across every replica.

    Rows started in the last minute count against 60/minute, in the last day against 5,000/day;
    rows not finished (and younger than a lease) count against the 5 concurrent calls.
    """

    __tablename__ = "xero_call"
    __table_args__ = (Index("ix_xero_call_started_at", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    what: str = Field(max_length=60)


class XeroSettings(SQLModel, table=True):
    """One row (id=1): how our invoices map onto the organisation's chart, set in /rebill settings."""

    __tablename__ = "xero_settings"

    id: int | None = Field(default=1, primary_key=True)
    account_code: str | None = Field(default=None, max_length=10)
    tax_type_taxable: str | None = Field(default=None, max_length=50)
    tax_type_free: str | None = Field(default=None, max_length=50)
    invoice_status: str = Field(default="AUTHORISED", max_length=16, description="DRAFT | AUTHORISED")
    push_mode: str = Field(default="manual", max_length=16, description="approve | manual")
    payments_read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = Field(default=None, max_length=64)


class XeroContactLink(SQLModel, table=True):
    """Which Xero contact an end customer is, once matched or created."""

    __tablename__ = "xero_contact_link"

    customer_id: int = Field(foreign_key="end_customer.id", primary_key=True)
    contact_id: str = Field(max_length=64)
    matched_by: str = Field(max_length=16, description="created | number | name")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class XeroDocument(SQLModel, table=True):
    """Our invoice or credit note as pushed to Xero: its Xero id, state and payments.

    `state`: pending (not yet tried), pushed, failed ("not pushed: <error>", retried by the next
    run), exception (needs a person: duplicate contact names, a paid invoice voided here), voided.
    A claim (token + time) keeps two replicas from pushing the same document at once.
    """

    __tablename__ = "xero_document"
    __table_args__ = (UniqueConstraint("kind", "local_id", name="uq_xero_document_kind_local"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, description="invoice | credit_note")
    local_id: int
    number: str = Field(max_length=40)
    state: str = Field(default="pending", max_length=16, index=True)
    xero_id: str | None = Field(default=None, max_length=64)
    xero_status: str | None = Field(default=None, max_length=16)
    version: str | None = Field(default=None, max_length=32, description="hash of what was last sent")
    error: str | None = Field(default=None, max_length=1000)
    outcome_unknown: bool = Field(default=False, description="a request timed out: look before creating")
    claim_token: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    pushed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    xero_total: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    amount_due: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    amount_paid: Decimal | None = Field(default=None, max_digits=14, decimal_places=2)
    paid_on: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
