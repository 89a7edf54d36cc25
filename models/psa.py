"""A local copy of the PSA's active companies, so the type-ahead never waits on the PSA."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, name_search_index, utcnow


class PsaCompany(SQLModel, table=True):
    __tablename__ = "psa_company"
    __table_args__ = (
        UniqueConstraint("psa_kind", "psa_id", name="uq_psa_company"),
        name_search_index("psa_company"),
        # The type-ahead walks this in name order and stops after 100 matches.
        Index("ix_psa_company_kind_name", "psa_kind", "name_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    psa_kind: str = Field(max_length=20)
    psa_id: str = Field(max_length=64)
    name: str = Field(max_length=255)
    name_key: str = Field(max_length=255, description="casefolded, for search")
    phone: str | None = Field(default=None, max_length=50)
    address_line1: str | None = Field(default=None, max_length=255)
    address_line2: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254, description="the PSA's billing e-mail")
    refreshed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class PsaRefresh(SQLModel, table=True):
    """The outcome of the last cache refresh per PSA, shown to users and by `check`."""

    __tablename__ = "psa_refresh"

    psa_kind: str = Field(primary_key=True, max_length=20)
    last_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    company_count: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
