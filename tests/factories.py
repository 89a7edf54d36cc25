"""Real rows for tests, made through the same core functions the product uses."""

from __future__ import annotations

from itertools import count
from typing import Any

from sqlalchemy.engine import Engine

from core import billing_settings, charges, customers
from core.charge_validation import validate_recurring_charge
from core.customer_validation import validate_customer
from core.db import session_scope
from models.charges import RecurringCharge
from models.customers import EndCustomer
from tests.harness.clock import FixedClock

_n = count(1)


def configure(engine: Engine, *, terms: int = 30, prefix: str = "INV-", start: int = 1) -> None:
    with session_scope(engine) as db:
        basics = billing_settings.validate_basics(
            {
                "business_name": "Acme MSP Pty Ltd",
                "default_payment_terms_days": str(terms),
                "invoice_prefix": prefix,
                "invoice_start_number": str(start),
            }
        )
        billing_settings.save_basics(db, basics, actor="U0ADMIN", clock=FixedClock())


def customer(engine: Engine, name: str | None = None, **fields: Any) -> EndCustomer:
    values = {"company_name": name or f"Customer {next(_n):04d}", "email": "accounts@example.com", **fields}
    with session_scope(engine) as db:
        return customers.create(db, validate_customer(values), actor="U0ADMIN", clock=FixedClock())


def monthly_charge(
    engine: Engine,
    customer_id: int | None,
    description: str = "Support",
    *,
    unit_price: str = "10",
    effective_from: str = "2026-11-01",
    end_date: str | None = None,
) -> RecurringCharge:
    """A monthly recurring charge, added the way a person adds one (validated, audited)."""
    assert customer_id is not None
    with session_scope(engine) as db:
        return charges.add_recurring_charge(
            db=db,
            actor="U0ADMIN",
            customer_id=customer_id,
            data=validate_recurring_charge(
                description=description,
                unit_price=unit_price,
                quantity="1",
                frequency="monthly",
                effective_from=effective_from,
                end_date=end_date,
            ),
            clock=FixedClock(),
        )


def invoices_to_send(engine: Engine, count: int) -> list[int]:
    """`count` customers with an e-mail, each billed one draft invoice for 2026-12: their ids."""
    from sqlmodel import Session, select

    from core.billrun import run_bill
    from core.calculation import Period
    from models.invoices import Invoice

    configure(engine)
    for n in range(count):
        monthly_charge(engine, customer(engine, f"Customer {n:02d}", email=f"ap{n}@example.com").id)
    run_bill(engine=engine, period=Period.parse("2026-12"), actor="U0ADMIN", clock=FixedClock())
    with Session(engine) as db:
        return [i.id for i in db.exec(select(Invoice).order_by(Invoice.id)).all() if i.id is not None]
