"""End customers: who the MSP bills."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, text
from sqlmodel import Field

from models.audited import Audited
from models.types import UTCDateTime, name_search_index


class EndCustomer(Audited, table=True):
    __tablename__ = "end_customer"
    __table_args__ = (
        name_search_index("end_customer"),
        # Unique among active customers only: an archived "Acme" must not block a new one.
        Index(
            "uq_end_customer_active_name",
            "name_key",
            unique=True,
            sqlite_where=text("archived_at IS NULL"),
            postgresql_where=text("archived_at IS NULL"),
        ),
        # One rebill-bot customer per PSA company, archived or not: re-importing is a mistake.
        Index(
            "uq_end_customer_psa",
            "psa_kind",
            "psa_ref",
            unique=True,
            sqlite_where=text("psa_ref IS NOT NULL"),
            postgresql_where=text("psa_ref IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_name: str = Field(max_length=100)
    name_key: str = Field(max_length=100, description="casefolded name for lookups")
    email: str | None = Field(default=None, max_length=254)
    contact_number: str | None = Field(default=None, max_length=30)
    address_line1: str | None = Field(default=None, max_length=120)
    address_line2: str | None = Field(default=None, max_length=120)
    city: str | None = Field(default=None, max_length=60)
    state: str | None = Field(default=None, max_length=40)
    postcode: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default=None, max_length=60)
    payment_terms_days: int | None = Field(default=None, description="override; None = global default")
    psa_kind: str | None = Field(default=None, max_length=20)
    psa_ref: str | None = Field(default=None, max_length=64)
    psa_synced_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    psa_inactive: bool = Field(default=False, description="deactivated in the PSA; flagged, not archived")
    archived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    create_key: str | None = Field(
        default=None, max_length=64, unique=True, description="idempotency key of the submission that made it"
    )
