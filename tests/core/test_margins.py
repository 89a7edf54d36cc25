"""Margins per customer and service from a period's invoices, and the below-floor exceptions."""

from __future__ import annotations

import io
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import charges, invoices, margins
from core.billrun import run_bill
from core.charge_validation import validate_recurring_charge
from core.db import session_scope
from core.usage_import import import_usage
from tests.harness.billbook import ACTOR, DEC
from tests.harness.clock import FixedClock
from tests.harness.usage_book import HEADER, build

D = Decimal


def billed(engine: Engine, **kw: str | None):  # type: ignore[no-untyped-def]
    book = build(engine, **kw)
    with session_scope(engine) as db:
        charges.add_recurring_charge(
            db=db,
            actor=ACTOR,
            customer_id=book.bravo,
            data=validate_recurring_charge(
                description="Helpdesk",
                unit_price="500",
                quantity="1",
                frequency="monthly",
                effective_from="2026-01-01",
            ),
            clock=FixedClock(),
        )
        usage = HEADER + "M1,,,,0298765432,2026-11-03,Calls,100,0.10,,\n"
        assert import_usage(db, io.StringIO(usage), actor=ACTOR, clock=FixedClock()).ok
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    return book


def test_rows_per_customer_and_service_with_cost_margin_and_percent_on_cost(engine: Engine) -> None:
    book = billed(engine)
    with Session(engine) as db:
        found = margins.rows(db, period=DEC)
    assert [
        (r.customer_name, r.service_name, r.revenue, r.cost, r.margin, r.margin_percent, r.uncosted)
        for r in found
    ] == [
        ("Alpha Dental", "(no service)", D("16.97"), D("13.58"), D("3.39"), D("24.96"), D("0")),
        ("Alpha Dental", "Voice", D("15.00"), D("10.00"), D("5.00"), D("50.00"), D("0")),
        ("Bravo Legal", "(no service)", D("500.00"), D("0"), D("500.00"), None, D("500.00")),
    ]
    assert found[1].service_id == book.voice
    assert found[0].as_dict()["margin_percent"] == "24.96" and isinstance(found[0].as_dict()["revenue"], str)
    total = margins.totals(found)
    assert (total.revenue, total.cost, total.margin, total.margin_percent) == (
        D("531.97"),
        D("23.58"),
        D("508.39"),
        D("35.58"),  # over the costed revenue only: 31.97 - 23.58 = 8.39 on 23.58
    )


def test_below_floor_lists_the_rows_under_the_setting_lowest_first(engine: Engine) -> None:
    billed(engine, floor="60")
    with Session(engine) as db:
        low = margins.below_floor(db, period=DEC)
        assert [(r.customer_name, r.service_name) for r in low] == [
            ("Alpha Dental", "(no service)"),
            ("Alpha Dental", "Voice"),
        ]
        assert margins.below_floor(db, period=DEC, floor=D("30")) == [low[0]]
        assert margins.below_floor(db, period=DEC.next()) == []


def test_no_floor_no_exceptions_and_void_invoices_do_not_count(engine: Engine) -> None:
    book = billed(engine, floor=None)
    with session_scope(engine) as db:
        assert margins.below_floor(db, period=DEC) == []
        [invoice] = invoices.list_invoices(db=db, customer_id=book.bravo)
        invoices.void(db=db, ref=invoice.number, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        assert {r.customer_name for r in margins.rows(db, period=DEC)} == {"Alpha Dental"}
