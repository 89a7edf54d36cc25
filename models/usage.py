"""Usage bought wholesale and billed in arrears, and the licence counts quantities can follow."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from models.audited import Created


class UsageRecord(Created, table=True):
    """One row of a supplier's usage file, as imported (see core.usage_import).

    `(source, usage_id)` is the supplier's own charge id, unique: importing the same file twice adds
    nothing. `unit_price` is fixed at import (from the file, or cost plus margin then), so a later
    margin change never silently reprices usage already received. `invoice_id` is set when an
    invoice bills the row, exactly like a once-off item.
    """

    __tablename__ = "usage_record"
    __table_args__ = (
        UniqueConstraint("source", "usage_id", name="uq_usage_record_source_usage_id"),
        Index("ix_usage_record_customer_date", "customer_id", "usage_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(default="", max_length=40, description="mapping's supplier name; '' = none")
    usage_id: str = Field(max_length=100)
    customer_id: int = Field(foreign_key="end_customer.id")
    service_id: int | None = Field(default=None, foreign_key="service.id")
    usage_date: date
    description: str = Field(max_length=200)
    quantity: Decimal = Field(max_digits=14, decimal_places=4)
    unit_cost: Decimal = Field(max_digits=14, decimal_places=4, description="ex-GST, internal")
    unit_price: Decimal = Field(max_digits=14, decimal_places=4, description="ex-GST, as billed")
    price_given: bool = Field(default=False, description="the file had a price (else cost + margin)")
    taxable: bool = True
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    import_ref: str = Field(max_length=64, description="which import wrote it (file name and time)")
    source_row: int = Field(description="row number in that file, for reports")


class LicenceCount(Created, table=True):
    """A licence (or seat) count reported by a feed on a day; a charge's quantity may follow it."""

    __tablename__ = "licence_count"
    __table_args__ = (UniqueConstraint("feed", "count_date", name="uq_licence_count_feed_date"),)

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=100)
    count_date: date
    quantity: Decimal = Field(max_digits=12, decimal_places=4)
