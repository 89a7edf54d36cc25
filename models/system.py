"""Global billing settings, the audit trail and the exactly-once notification log."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class BillingSettings(SQLModel, table=True):
    """One row (id=1). Editable from Slack, so it lives in the database rather than the environment."""

    __tablename__ = "billing_settings"

    id: int | None = Field(default=1, primary_key=True)
    business_name: str | None = Field(default=None, max_length=100)
    abn: str | None = Field(default=None, max_length=20)
    business_address: str | None = Field(default=None, max_length=300)
    business_email: str | None = Field(default=None, max_length=254)
    business_phone: str | None = Field(default=None, max_length=30)
    logo_path: str | None = Field(default=None, max_length=500)
    payment_instructions: str | None = Field(default=None, max_length=1000)
    default_payment_terms_days: int | None = None
    invoice_prefix: str | None = Field(default=None, max_length=20)
    invoice_start_number: int | None = None
    invoice_number_padding: int = 5
    credit_note_prefix: str = Field(default="CN-", max_length=20, sa_column_kwargs={"server_default": "CN-"})
    back_billing_months: int = Field(
        default=3,
        sa_column_kwargs={"server_default": "3"},
        description="how many months back the bill run catches up unbilled days on its own",
    )
    tax_rate: Decimal = Field(default=Decimal("0.1000"), max_digits=6, decimal_places=4)
    currency: str = Field(default="AUD", max_length=3)
    billing_mode: str = Field(default="advance", max_length=16, description="advance | arrears")
    alert_channel_id: str | None = Field(default=None, max_length=32)
    bill_run_day: int = 1
    bill_run_hour: int = 2
    auto_approve: bool = False
    auto_send: bool = False
    missing_email_digest_time: str = Field(default="09:00", max_length=5)
    reminders_enabled: bool = False
    change_threshold_pct: int = Field(default=20, description="month close: flag totals that moved more")
    four_eyes: bool = Field(default=False, description="month close: the runner may not approve")
    default_margin_percent: Decimal | None = Field(
        default=None, max_digits=7, decimal_places=2, description="% on cost; None = prices must be given"
    )
    margin_floor_percent: Decimal | None = Field(
        default=None, max_digits=7, decimal_places=2, description="margin % below which a row is an exception"
    )
    configured_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    updated_by: str | None = Field(default=None, max_length=64)


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str = Field(max_length=64, description="Slack user id, cli:<user> or system:<job>")
    entity: str = Field(max_length=32, index=True)
    entity_id: str = Field(max_length=64, index=True)
    action: str = Field(max_length=32)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Notification(SQLModel, table=True):
    """A side effect (alert, reminder, scheduled run) claimed by inserting its key before doing it."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("kind", "subject", "occasion", name="uq_notification_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=64)
    occasion: str = Field(max_length=32, description="the period or date the side effect belongs to")
    claimed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    claimed_by: str = Field(max_length=100)
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=1000)
