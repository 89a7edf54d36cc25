"""A small ledger book (customers, charges, runs and what they wrote) for the ledger and credit tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core import charges, customers, invoices
from core.billrun import run_bill
from core.calculation import Period
from core.charge_validation import validate_recurring_charge
from core.customer_validation import validate_customer
from core.db import session_scope
from models.invoices import Invoice
from tests.factories import configure
from tests.harness.clock import FixedClock

ACTOR = "cli:test"


D = Decimal


OCT, NOV, DEC, JAN = Period(2026, 10), Period(2026, 11), Period(2026, 12), Period(2027, 1)


def customer(engine: Engine, name: str = "Alpha Dental") -> int:
    with session_scope(engine) as db:
        row = customers.create(db, validate_customer({"company_name": name}), actor=ACTOR, clock=FixedClock())
        assert row.id is not None
        return row.id


def charge(engine: Engine, customer_id: int, description: str, price: str, start: str, **fields: Any) -> int:
    data = validate_recurring_charge(
        description=description,
        unit_price=price,
        quantity=fields.pop("quantity", "1"),
        frequency=fields.pop("frequency", "monthly"),
        effective_from=start,
        **fields,
    )
    with session_scope(engine) as db:
        row = charges.add_recurring_charge(
            db=db, actor=ACTOR, customer_id=customer_id, data=data, clock=FixedClock()
        )
        assert row.id is not None
        return row.id


def run(engine: Engine, period: Period, **options: Any) -> Any:
    return run_bill(engine=engine, period=period, actor=ACTOR, clock=FixedClock(), **options)


def documents(engine: Engine, customer_id: int, period: Period) -> list[Invoice]:
    with Session(engine) as db:
        return list(
            db.execute(
                select(Invoice)
                .where(
                    Invoice.customer_id == customer_id,
                    Invoice.period == str(period),
                    Invoice.status != "void",
                )
                .order_by(col(Invoice.id))
            ).scalars()
        )


def lines(engine: Engine, invoice: Invoice) -> list[tuple[str, str, D]]:
    """(kind, description, amount) of each line."""
    with Session(engine) as db:
        return [
            (line.kind, line.description, line.amount)
            for line in invoices.lines_of(db=db, invoice_id=invoice.id or 0)
        ]


def only(engine: Engine, customer_id: int, period: Period) -> Invoice:
    found = documents(engine, customer_id, period)
    assert len(found) == 1, found
    return found[0]


def make_book(engine: Engine) -> int:
    """A configured book (advance billing) with one customer on $50/month since January."""
    configure(engine, terms=14)
    alpha = customer(engine)
    charge(engine, alpha, "Backup", "50", "2026-01-01")
    return alpha
