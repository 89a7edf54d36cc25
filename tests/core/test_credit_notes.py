"""Credit notes for sent and paid invoices, over a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core import charges, credit_notes, dashboard, invoices, reminders, rendering
from core.db import session_scope
from core.errors import NotAllowed
from models.invoices import Invoice
from tests.harness.clock import FixedClock
from tests.harness.ledger_book import ACTOR, DEC, JAN, charge, documents, lines, make_book, only, run

D = Decimal


@pytest.fixture
def book(engine: Engine) -> int:
    return make_book(engine)


def mark(engine: Engine, number: str, status: str) -> None:
    """Test set-up: the invoice went out (delivery's own tests cover how it gets there)."""
    with session_scope(engine) as db:
        db.execute(update(Invoice).where(col(Invoice.number) == number).values(status=status))


def credit(engine: Engine, number: str, **options: object) -> credit_notes.Credited:
    with session_scope(engine) as db:
        return credit_notes.credit(db=db, ref=number, actor=ACTOR, clock=FixedClock(), **options)  # type: ignore[arg-type]


def test_credit_some_lines_then_the_next_bill_run(engine: Engine, book: int) -> None:
    nbn = charge(engine, book, "NBN 100", "100", "2026-01-01")
    run(engine, DEC)
    dec = only(engine, book, DEC)  # Backup 50.00 + NBN 100.00, GST 15.00, total 165.00
    mark(engine, dec.number, "sent")
    with session_scope(engine) as db, pytest.raises(NotAllowed, match="credit note"):
        invoices.void(db=db, ref=dec.number, actor=ACTOR, clock=FixedClock())
    with session_scope(engine) as db:  # the NBN service stopped at the end of November
        charges.end_recurring_charge(
            db=db, actor=ACTOR, charge_id=nbn, end_date="2026-11-30", clock=FixedClock()
        )
    done = credit(engine, dec.number, positions=[2], reason="Service moved to another provider")
    note = done.credit_note
    # Line 2 negated: -100.00; GST by the invoice's own per-line rounding: -10.00; total -110.00.
    assert (note.number, note.doc_type, note.credits_invoice_id) == ("CN-00001", "credit_note", dec.id)
    assert (note.subtotal, note.tax, note.total) == (D("-100.00"), D("-10.00"), D("-110.00"))
    assert lines(engine, note) == [("credit", "Credit: NBN 100 (1 Dec – 31 Dec 2026)", D("-100.00"))]
    with pytest.raises(NotAllowed, match="already have a credit note"):
        credit(engine, dec.number, positions=[2])
    run(engine, JAN)
    # The credit note released 1-31 Dec of NBN, and NBN is not owed then: nothing credited twice,
    # nothing billed again; Backup carries on.
    assert lines(engine, only(engine, book, JAN)) == [
        ("recurring", "Backup (1 Jan – 31 Jan 2027)", D("50.00"))
    ]


def test_credited_days_still_owed_are_billed_again(engine: Engine, book: int) -> None:
    charge(engine, book, "NBN 100", "100", "2026-01-01")
    run(engine, DEC)
    dec = only(engine, book, DEC)
    mark(engine, dec.number, "paid")
    credit(engine, dec.number, positions=[2], reason="Wrong plan")  # the charge itself is unchanged
    run(engine, JAN)
    # The ledger is true: 1-31 Dec of NBN is owed and no longer covered, so it comes back once.
    assert [(kind, amount) for kind, _, amount in lines(engine, only(engine, book, JAN))] == [
        ("recurring", D("50.00")),
        ("catch_up", D("100.00")),
        ("recurring", D("100.00")),
    ]


def test_credit_everything_nets_to_zero_and_renders_as_an_adjustment_note(engine: Engine, book: int) -> None:
    charge(engine, book, "Odd price", "33.3333", "2026-12-11")  # pro-rata 21/31: a cent-rounding line
    run(engine, DEC)
    dec = only(engine, book, DEC)
    mark(engine, dec.number, "sent")
    note = credit(engine, dec.number).credit_note
    assert (note.subtotal + dec.subtotal, note.tax + dec.tax, note.total + dec.total) == (0, 0, 0)
    with session_scope(engine) as db:
        context = rendering.load_context(db=db, invoice=note)
        html = rendering.render_invoice_html(rendering.environment(), context)
        email = rendering.render_email(rendering.environment(), context)
    assert "Adjustment note" in html and f"Credits invoice</td><td>{dec.number}" in html
    assert email.subject.startswith(f"Credit note {note.number}")
    assert "Amount credited" in email.text


@pytest.mark.parametrize("status", ["draft", "approved"])
def test_only_sent_or_paid_invoices_are_credited(engine: Engine, book: int, status: str) -> None:
    run(engine, DEC)
    dec = only(engine, book, DEC)
    mark(engine, dec.number, status)
    with pytest.raises(NotAllowed, match="can still be voided"):
        credit(engine, dec.number)
    mark(engine, dec.number, "sent")
    with pytest.raises(NotAllowed, match="there is no line 7"):
        credit(engine, dec.number, positions=[7])
    assert len(documents(engine, book, DEC)) == 1  # nothing half-written


def test_a_credit_note_is_never_owed_overdue_or_paid(engine: Engine, book: int) -> None:
    run(engine, DEC)
    dec = only(engine, book, DEC)
    mark(engine, dec.number, "paid")
    note = credit(engine, dec.number).credit_note
    later = date(2027, 6, 1)
    with session_scope(engine) as db:
        assert invoices.list_invoices(db=db, status="overdue", today=later) == []
        assert not invoices.is_overdue(invoices.find(db=db, ref=note.number), later)
        assert reminders.overdue_invoices(db, today=later) == []
        assert dashboard.invoice_figures(db, today=later).overdue == 0
        with pytest.raises(NotAllowed, match="only an invoice is paid"):
            invoices.mark_paid(db=db, ref=note.number, actor=ACTOR, clock=FixedClock())
