"""The ledger's two settings, changed the way a person changes them (`settings_keys.update`, the
function behind `rebill-bot settings set`, which runs the Slack form's own validation and save):
the back-billing horizon decides what a bill run holds, the credit-note prefix numbers the next
credit note. Real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core import credit_notes, numbering, settings_keys
from core.billing_settings import load
from core.calculation import Period
from core.db import session_scope
from core.errors import FieldErrors
from models.invoices import Invoice
from tests.factories import configure
from tests.harness.clock import FixedClock
from tests.harness.ledger_book import ACTOR, DEC, JAN, charge, customer, lines, make_book, only, run

D = Decimal


def set_settings(engine: Engine, **changes: str) -> dict[str, Any]:
    with session_scope(engine) as db:
        return settings_keys.update(db, changes, actor=ACTOR, clock=FixedClock())


def held_of(result: Any, customer_id: int) -> list[tuple[date, date, D]]:
    return [(h.period_start, h.period_end, h.amount) for h in result.held if h.customer_id == customer_id]


def backdated_book(engine: Engine) -> int:
    """The ledger starts in January; in December a $100/month charge is entered from 15 July."""
    configure(engine, terms=14)
    first = customer(engine, "First Customer")
    charge(engine, first, "Backup", "50", "2026-01-01")
    run(engine, Period(2026, 1))
    alpha = customer(engine)
    charge(engine, alpha, "NBN 100", "100", "2026-07-15")
    return alpha


# July 15..31 of 31 days: R(100·31/31) - R(100·14/31) = 100.00 - 45.16 = 54.84; Aug..Nov 100.00 each.
JUL = (date(2026, 7, 15), date(2026, 7, 31), D("54.84"))
AUG = (date(2026, 8, 1), date(2026, 8, 31), D("100.00"))
SEP = (date(2026, 9, 1), date(2026, 9, 30), D("100.00"))
OCT = (date(2026, 10, 1), date(2026, 10, 31), D("100.00"))
NOV = (date(2026, 11, 1), date(2026, 11, 30), D("100.00"))


def test_a_one_month_horizon_holds_everything_before_november(engine: Engine) -> None:
    alpha = backdated_book(engine)
    assert set_settings(engine, back_billing_months="1") == {"back_billing_months": ("3", "1")}
    result = run(engine, DEC)
    # Horizon = December - 1 month = November: November is caught up on its own, July..October wait
    # (with the default 3, September..November would be billed: see test_ledger's horizon test).
    assert [(kind, amount) for kind, _, amount in lines(engine, only(engine, alpha, DEC))] == [
        ("catch_up", D("100.00")),
        ("recurring", D("100.00")),
    ]
    assert held_of(result, alpha) == [JUL, AUG, SEP, OCT]


def test_a_zero_horizon_holds_all_catch_up_and_a_wider_one_bills_it(engine: Engine) -> None:
    alpha = backdated_book(engine)
    set_settings(engine, back_billing_months="0")
    result = run(engine, DEC)
    # 0 months: every day before December waits for a decision; only December itself is billed.
    assert [(kind, amount) for kind, _, amount in lines(engine, only(engine, alpha, DEC))] == [
        ("recurring", D("100.00"))
    ]
    assert held_of(result, alpha) == [JUL, AUG, SEP, OCT, NOV]
    set_settings(engine, back_billing_months="6")  # January - 6 = July: nothing older than July
    again = run(engine, JAN)
    assert held_of(again, alpha) == []
    # 54.84 + 4 x 100.00 caught up, then January's 100.00: the months held in December, billed once.
    assert [amount for _, _, amount in lines(engine, only(engine, alpha, JAN))] == [
        D("54.84"),
        *[D("100.00")] * 5,
    ]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("25", "from 0 to 24"),
        ("-1", "from 0 to 24"),
        ("three", "from 0 to 24"),
        ("", "from 0 to 24"),
    ],
)
def test_a_horizon_outside_0_to_24_is_refused(engine: Engine, value: str, error: str) -> None:
    configure(engine)
    with pytest.raises(FieldErrors) as caught:
        set_settings(engine, back_billing_months=value)
    assert error in caught.value.errors["back_billing_months"]
    with session_scope(engine) as db:
        assert load(db).back_billing_months == 3


def mark_sent(engine: Engine, number: str) -> None:
    with session_scope(engine) as db:
        db.execute(update(Invoice).where(col(Invoice.number) == number).values(status="sent"))


def credit(engine: Engine, number: str) -> str:
    with session_scope(engine) as db:
        return credit_notes.credit(db=db, ref=number, actor=ACTOR, clock=FixedClock()).credit_note.number


def test_a_new_credit_note_prefix_starts_its_own_series_and_an_old_one_carries_on(engine: Engine) -> None:
    alpha = make_book(engine)
    run(engine, DEC)
    run(engine, JAN)
    dec, jan = only(engine, alpha, DEC).number, only(engine, alpha, JAN).number
    mark_sent(engine, dec)
    mark_sent(engine, jan)
    assert credit(engine, dec) == "CN-00001"
    assert set_settings(engine, credit_note_prefix="ADJ-") == {"credit_note_prefix": ("CN-", "ADJ-")}
    assert credit(engine, jan) == "ADJ-00001"  # a new prefix: its own gapless series from 1
    set_settings(engine, credit_note_prefix="CN-")
    run(engine, Period(2027, 2))
    feb = only(engine, alpha, Period(2027, 2)).number
    mark_sent(engine, feb)
    assert credit(engine, feb) == "CN-00002"  # back to CN-: carries on, CN-00001 is never reused


def test_a_credit_note_prefix_never_shares_a_series_with_invoices(engine: Engine) -> None:
    alpha = make_book(engine)
    run(engine, DEC)
    invoice = only(engine, alpha, DEC).number  # INV-00001
    with pytest.raises(FieldErrors) as same:
        set_settings(engine, credit_note_prefix="inv-")
    assert "other than the invoice prefix" in same.value.errors["credit_note_prefix"]
    set_settings(engine, invoice_prefix="BILL-")
    with pytest.raises(FieldErrors) as used:  # INV- is no longer the invoice prefix, but numbered one
        set_settings(engine, credit_note_prefix="INV-")
    assert used.value.errors == {
        "credit_note_prefix": f"INV- already numbers an invoice ({invoice}): choose another prefix."
    }
    mark_sent(engine, invoice)
    assert credit(engine, invoice) == "CN-00001"
    with pytest.raises(FieldErrors) as back:  # and the invoice prefix can't take over CN-
        set_settings(engine, invoice_prefix="CN-", credit_note_prefix="ADJ-")
    assert back.value.errors == {
        "invoice_prefix": "CN- already numbers a credit note (CN-00001): choose another prefix."
    }
    with session_scope(engine) as db:
        row = load(db)
        assert (row.invoice_prefix, row.credit_note_prefix) == ("BILL-", "CN-")  # nothing half-saved
        assert numbering.credit_note_series(row) == "CN-"


@pytest.mark.parametrize("value", ["", "-CN", "C N", "X" * 21])
def test_a_bad_credit_note_prefix_is_refused(engine: Engine, value: str) -> None:
    configure(engine)
    with pytest.raises(FieldErrors) as caught:
        set_settings(engine, credit_note_prefix=value)
    assert set(caught.value.errors) == {"credit_note_prefix"}
