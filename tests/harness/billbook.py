"""The standard bill-run book (customers and charges over December 2026) most core tests start from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import charges, customers
from core.calculation import Period
from core.charge_validation import validate_once_off, validate_recurring_charge, validate_service
from core.customer_validation import validate_customer
from core.db import session_scope
from models.invoices import Invoice
from tests.factories import configure
from tests.harness.clock import FixedClock

ACTOR = "cli:test"


DEC = Period(2026, 12)


@dataclass(frozen=True)
class Book:
    alpha: int
    bravo: int
    coastal: int
    delta: int
    echo: int
    foxtrot: int
    golf: int
    item: int
    excluded_service: int


def _customer(db: Session, name: str, **fields: Any) -> int:
    row = customers.create(
        db, validate_customer({"company_name": name, **fields}), actor=ACTOR, clock=FixedClock()
    )
    assert row.id is not None
    return row.id


def _charge(
    db: Session, customer_id: int, description: str, price: str, qty: str = "1", **fields: Any
) -> None:
    data = validate_recurring_charge(
        description=description,
        unit_price=price,
        quantity=qty,
        frequency=fields.pop("frequency", "monthly"),
        effective_from=fields.pop("effective_from", "2026-01-01"),
        **fields,
    )
    charges.add_recurring_charge(db=db, actor=ACTOR, customer_id=customer_id, data=data, clock=FixedClock())


def build_book(engine: Engine) -> Book:
    """Seven customers covering what a real month looks like (expected invoices in the test below)."""
    configure(engine, terms=14)
    clock = FixedClock()
    with session_scope(engine) as db:
        alpha = _customer(db, "Alpha Dental", email="ap@alpha.example")
        _charge(db, alpha, "Managed workstation", "100", "2")
        bravo = _customer(db, "Bravo Legal", email="ap@bravo.example")
        _charge(db, bravo, "Managed server", "310", effective_from="2026-12-11")  # pro-rata 21/31
        _charge(db, bravo, "Offsite backup (export)", "50", taxable=False)
        coastal = _customer(db, "Coastal Motors", payment_terms_days="7")
        _charge(db, coastal, "Firewall licence", "300", frequency="quarterly", effective_from="2026-06-01")
        _charge(db, coastal, "Annual domain", "40", frequency="annually", effective_from="2026-03-01")
        delta = _customer(db, "Delta Plumbing", email="ap@delta.example")
        _charge(db, delta, "Microsoft 365 Business Standard", "45.50", "3")
        item = charges.add_once_off(
            db=db,
            actor=ACTOR,
            customer_id=delta,
            data=validate_once_off(
                description="Laptop setup", unit_price="99.95", quantity="1", item_date="2026-11-20"
            ),
            clock=FixedClock(),
        )
        charges.add_once_off(  # dated after December: stays for a later invoice
            db=db,
            actor=ACTOR,
            customer_id=delta,
            data=validate_once_off(
                description="Onsite visit", unit_price="150", quantity="1", item_date="2027-01-05"
            ),
            clock=FixedClock(),
        )
        echo = _customer(db, "Echo Archived")
        _charge(db, echo, "Managed workstation", "100")
        foxtrot = _customer(db, "Foxtrot Nothing")
        golf = _customer(db, "Golf & Sons <Pty>")
        service = charges.add_service(
            db=db,
            actor=ACTOR,
            customer_id=golf,
            data=validate_service(name="Phones", start_date="2026-01-01"),
            clock=FixedClock(),
        )
        assert service.id is not None
        _charge(db, golf, "Hosted PBX", "80", service_id=service.id)
        _charge(db, golf, "Helpdesk", "120")
        charges.set_exclude_next_invoice(
            db=db, actor=ACTOR, service_id=service.id, exclude=True, clock=FixedClock()
        )
    with session_scope(engine) as db:
        customers.archive(db, echo, actor=ACTOR, clock=clock)
    assert item.id is not None
    return Book(alpha, bravo, coastal, delta, echo, foxtrot, golf, item.id, service.id)


def invoice_of(db: Session, customer_id: int, period: Period = DEC) -> Invoice:
    return db.execute(
        select(Invoice).where(
            Invoice.customer_id == customer_id, Invoice.period == str(period), Invoice.status != "void"
        )
    ).scalar_one()
