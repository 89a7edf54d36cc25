"""What a customer is billed for: services, recurring charges and once-off items."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from models.audited import Audited, Created


class Service(Audited, table=True):
    __tablename__ = "service"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="end_customer.id", index=True)
    name: str = Field(max_length=200)
    reference: str | None = Field(default=None, max_length=100)
    psa_reference: str | None = Field(default=None, max_length=100)
    start_date: date
    end_date: date | None = None
    status: str = Field(default="active", max_length=16, description="active | cancelled")
    exclude_next_invoice: bool = False
    margin_percent: Decimal | None = Field(
        default=None, max_digits=7, decimal_places=2, description="override of the default margin, % on cost"
    )
    create_key: str | None = Field(
        default=None, max_length=64, unique=True, description="idempotency key of the submission that made it"
    )


class RecurringCharge(Audited, table=True):
    __tablename__ = "recurring_charge"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="end_customer.id", index=True)
    service_id: int | None = Field(default=None, foreign_key="service.id", index=True)
    description: str = Field(max_length=200)
    unit_price: Decimal = Field(max_digits=14, decimal_places=4, description="ex-GST")
    quantity: Decimal = Field(max_digits=12, decimal_places=4)
    unit_cost: Decimal | None = Field(
        default=None, max_digits=14, decimal_places=4, description="ex-GST, internal"
    )
    quantity_feed: str | None = Field(
        default=None,
        max_length=100,
        description="licence feed the quantity follows (latest count in the month)",
    )
    frequency: str = Field(default="monthly", max_length=16, description="monthly | quarterly | annually")
    effective_from: date
    end_date: date | None = None
    taxable: bool = True
    create_key: str | None = Field(
        default=None, max_length=64, unique=True, description="idempotency key of the submission that made it"
    )


class ChargeVersion(Created, table=True):
    """The price and quantity of a recurring charge from a date on (see core.coverage).

    Version 1 starts at the charge's `effective_from`. A change to a charge that has been billed
    closes the current version at the day before its effective date and opens the next one; the
    charge row itself always holds the latest version's price and quantity. A charge with no rows
    here has one version, its own fields.
    """

    __tablename__ = "charge_version"
    __table_args__ = (UniqueConstraint("charge_id", "version", name="uq_charge_version_charge_version"),)

    id: int | None = Field(default=None, primary_key=True)
    charge_id: int = Field(foreign_key="recurring_charge.id", index=True)
    version: int
    effective_from: date
    unit_price: Decimal = Field(max_digits=14, decimal_places=4, description="ex-GST")
    quantity: Decimal = Field(max_digits=12, decimal_places=4)


class OnceOffItem(Audited, table=True):
    __tablename__ = "once_off_item"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="end_customer.id", index=True)
    description: str = Field(max_length=200)
    unit_price: Decimal = Field(max_digits=14, decimal_places=4, description="ex-GST")
    quantity: Decimal = Field(max_digits=12, decimal_places=4)
    unit_cost: Decimal | None = Field(
        default=None, max_digits=14, decimal_places=4, description="ex-GST, internal"
    )
    item_date: date
    taxable: bool = True
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    create_key: str | None = Field(
        default=None, max_length=64, unique=True, description="idempotency key of the submission that made it"
    )
