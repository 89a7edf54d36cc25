"""The bill run remembers what it billed: hand-worked cases over a real database (SQLite and PostgreSQL).

Each test writes its working out: the pro-rata piece rule is `R(p·b/n) - R(p·(a-1)/n)` for days
a..b of an n-day cycle (R = half-up to cents), so a bill and a later credit of part of it net to
exactly the pro-rata value of the days left.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from core import charges, invoices
from core.calculation import Period
from core.charge_validation import validate_recurring_charge, validate_service
from core.db import session_scope
from core.errors import FieldErrors, NotAllowed
from models.invoices import InvoiceLine
from models.system import BillingSettings
from tests.factories import configure
from tests.harness.clock import FixedClock
from tests.harness.ledger_book import (
    ACTOR,
    DEC,
    JAN,
    NOV,
    OCT,
    D,
    charge,
    customer,
    documents,
    lines,
    make_book,
    only,
    run,
)


@pytest.fixture
def book(engine: Engine) -> int:
    return make_book(engine)


def set_mode(engine: Engine, mode: str, **values: Any) -> None:
    with session_scope(engine) as db:
        db.execute(update(BillingSettings).values(billing_mode=mode, **values))


def test_started_mid_month_after_the_month_was_invoiced_advance(engine: Engine, book: int) -> None:
    run(engine, NOV)  # November invoiced in advance: Backup 50.00
    charge(engine, book, "NBN 100", "100", "2026-11-12")  # added on 20 Nov, backdated to 12 Nov
    run(engine, DEC)
    # 12-30 Nov is days 12..30 of 30: R(100·30/30) - R(100·11/30) = 100.00 - 36.67 = 63.33.
    # December is a whole month: 100.00. With Backup 50.00, subtotal 213.33, GST 21.33, total 234.66.
    dec = only(engine, book, DEC)
    assert lines(engine, dec) == [
        ("recurring", "Backup (1 Dec – 31 Dec 2026)", D("50.00")),
        ("catch_up", "NBN 100 (12 Nov – 30 Nov 2026, catch-up, pro-rata 19/30 days)", D("63.33")),
        ("recurring", "NBN 100 (1 Dec – 31 Dec 2026)", D("100.00")),
    ]
    assert (dec.subtotal, dec.tax, dec.total) == (D("213.33"), D("21.33"), D("234.66"))
    run(engine, JAN)  # nothing of November or December is billed again
    assert [amount for _, _, amount in lines(engine, only(engine, book, JAN))] == [D("50.00"), D("100.00")]


def test_started_mid_month_after_the_month_was_invoiced_arrears(engine: Engine, book: int) -> None:
    set_mode(engine, "arrears")
    run(engine, NOV)  # arrears: November's invoice bills October
    charge(engine, book, "NBN 100", "100", "2026-10-12")  # added after it, backdated to 12 Oct
    run(engine, DEC)  # December's invoice bills November, and catches up 12-31 Oct
    # 12-31 Oct is days 12..31 of 31: R(100) - R(100·11/31) = 100.00 - 35.48 = 64.52; November 100.00.
    assert lines(engine, only(engine, book, DEC)) == [
        ("recurring", "Backup (1 Nov – 30 Nov 2026)", D("50.00")),
        ("catch_up", "NBN 100 (12 Oct – 31 Oct 2026, catch-up, pro-rata 20/31 days)", D("64.52")),
        ("recurring", "NBN 100 (1 Nov – 30 Nov 2026)", D("100.00")),
    ]


def test_started_two_months_back_gives_two_catch_up_pieces(engine: Engine, book: int) -> None:
    run(engine, OCT)
    run(engine, NOV)
    charge(engine, book, "NBN 100", "100", "2026-10-12")
    run(engine, DEC)
    # October 12..31 of 31: 100.00 - R(100·11/31) = 64.52; November whole: 100.00; December 100.00.
    assert lines(engine, only(engine, book, DEC))[1:] == [
        ("catch_up", "NBN 100 (12 Oct – 31 Oct 2026, catch-up, pro-rata 20/31 days)", D("64.52")),
        ("catch_up", "NBN 100 (1 Nov – 30 Nov 2026, catch-up)", D("100.00")),
        ("recurring", "NBN 100 (1 Dec – 31 Dec 2026)", D("100.00")),
    ]


def test_catch_up_beyond_the_horizon_is_held_until_confirmed(engine: Engine) -> None:
    configure(engine, terms=14)
    first = customer(engine, "First Customer")
    charge(engine, first, "Backup", "50", "2026-01-01")
    run(engine, Period(2026, 1))  # the ledger starts in January (the book's first invoice)
    alpha = customer(engine)
    charge(engine, alpha, "NBN 100", "100", "2026-07-15")  # entered in December, backdated to July
    result = run(engine, DEC)
    # Horizon 3 months back from December: September, October, November are caught up on their own.
    assert [(kind, amount) for kind, _, amount in lines(engine, only(engine, alpha, DEC))] == [
        ("catch_up", D("100.00")),
        ("catch_up", D("100.00")),
        ("catch_up", D("100.00")),
        ("recurring", D("100.00")),
    ]

    # July 15..31 of 31: 100.00 - R(100·14/31) = 100.00 - 45.16 = 54.84, and August 100.00: held, listed.
    def held_of_alpha(found: Any) -> list[tuple[date, date, D]]:
        return [(h.period_start, h.period_end, h.amount) for h in found.held if h.customer_id == alpha]

    assert held_of_alpha(result) == [
        (date(2026, 7, 15), date(2026, 7, 31), D("54.84")),
        (date(2026, 8, 1), date(2026, 8, 31), D("100.00")),
    ]
    again = run(engine, JAN)  # still waiting: not billed silently, not dropped
    assert [amount for _, _, amount in held_of_alpha(again)] == [D("54.84"), D("100.00")]
    assert len(lines(engine, only(engine, alpha, JAN))) == 1
    with session_scope(engine) as db:
        invoices.void(db=db, ref=only(engine, alpha, JAN).number, actor=ACTOR, clock=FixedClock())
    confirmed = run(engine, JAN, include_old_catch_up=True)
    assert held_of_alpha(confirmed) == []
    assert [amount for _, _, amount in lines(engine, only(engine, alpha, JAN))] == [
        D("54.84"),
        D("100.00"),
        D("100.00"),
    ]
    run(engine, Period(2027, 2), include_old_catch_up=True)  # billed once: nothing older is left
    assert [amount for _, _, amount in lines(engine, only(engine, alpha, Period(2027, 2)))] == [D("100.00")]


def test_end_dated_back_into_a_billed_month_is_credited_what_was_billed(engine: Engine, book: int) -> None:
    nbn = charge(engine, book, "NBN 100", "100", "2026-01-01")
    run(engine, DEC)  # December billed in advance: 100.00
    with session_scope(engine) as db:
        charges.end_recurring_charge(
            db=db, actor=ACTOR, charge_id=nbn, end_date="2026-12-10", clock=FixedClock()
        )
    run(engine, JAN)
    # Days 11..31 of 31 were billed as part of R(100) = 100.00; their share is
    # R(100·31/31) - R(100·10/31) = 100.00 - 32.26 = 67.74, credited. Bill + credit = 32.26, which is
    # exactly the pro-rata value of 1..10 Dec, R(100·10/31).
    assert lines(engine, only(engine, book, JAN)) == [
        ("recurring", "Backup (1 Jan – 31 Jan 2027)", D("50.00")),
        (
            "credit",
            "NBN 100 (11 Dec – 31 Dec 2026, credit: ended, last day 10 Dec 2026, pro-rata 21/31 days)",
            D("-67.74"),
        ),
    ]
    jan = only(engine, book, JAN)
    # Subtotal 50.00 - 67.74 = -17.74 < 0: a credit note (its own series), never a negative invoice.
    assert jan.doc_type == "credit_note" and jan.number == "CN-00001"
    # GST on -17.74 is -1.77 (half away from zero of -1.774); total -19.51.
    assert (jan.subtotal, jan.tax, jan.total) == (D("-17.74"), D("-1.77"), D("-19.51"))
    run(engine, JAN)  # a re-run credits nothing twice; the January slot is still free for an invoice
    assert len(documents(engine, book, JAN)) == 1


def test_cancel_service_bills_through_the_last_day_and_credits_after_it(engine: Engine, book: int) -> None:
    with session_scope(engine) as db:
        service = charges.add_service(
            db=db,
            actor=ACTOR,
            customer_id=book,
            data=validate_service(name="Phones", start_date="2026-01-01"),
            clock=FixedClock(),
        )
    charge(engine, book, "Hosted PBX", "310", "2026-01-01", service_id=service.id)
    run(engine, NOV)
    with session_scope(engine) as db:  # cancelled on 20 Nov, last day billed 10 Dec (notice period)
        charges.cancel_service(
            db=db, actor=ACTOR, service_id=service.id or 0, end_date="2026-12-10", clock=FixedClock()
        )
    run(engine, DEC)
    # Days 1..10 of December: R(310·10/31) = 100.00 (before the fix a cancelled service billed nothing).
    assert lines(engine, only(engine, book, DEC))[1] == (
        "recurring",
        "Hosted PBX (1 Dec – 10 Dec 2026, pro-rata 10/31 days)",
        D("100.00"),
    )
    with session_scope(engine) as db:  # now moved back: last day 5 Nov, which was billed in full
        db.execute(
            update(service.__class__)
            .where(col(service.__class__.id) == service.id)
            .values(end_date=date(2026, 11, 5))
        )
    run(engine, JAN)
    # Credit 6..30 Nov: R(310) - R(310·5/30) = 310.00 - 51.67 = 258.33; and 1..10 Dec: 100.00.
    assert lines(engine, only(engine, book, JAN))[1:] == [
        (
            "credit",
            "Hosted PBX (6 Nov – 30 Nov 2026, credit: service cancelled, last day 5 Nov 2026, pro-rata 25/30 days)",
            D("-258.33"),
        ),
        (
            "credit",
            "Hosted PBX (1 Dec – 10 Dec 2026, credit: service cancelled, last day 5 Nov 2026, pro-rata 10/31 days)",
            D("-100.00"),
        ),
    ]


def test_quarterly_charge_started_mid_quarter_after_the_quarters_invoice(engine: Engine, book: int) -> None:
    run(engine, OCT)
    run(engine, NOV)
    charge(engine, book, "Firewall licence", "300", "2026-10-15", frequency="quarterly")
    run(engine, DEC)
    # The cycle runs 1 Oct - 31 Dec (92 days, counted from October); the charge owes days 15..92.
    # R(300) - R(300·14/92) = 300.00 - 45.65 = 254.35, one piece: the cycle is the current one.
    assert lines(engine, only(engine, book, DEC))[1:] == [
        ("recurring", "Firewall licence (15 Oct – 31 Dec 2026, pro-rata 78/92 days)", D("254.35")),
    ]
    run(engine, JAN)  # the next cycle, 1 Jan - 31 Mar 2027, whole: 300.00
    assert lines(engine, only(engine, book, JAN))[1:] == [
        ("recurring", "Firewall licence (1 Jan – 31 Mar 2027)", D("300.00")),
    ]


def test_void_then_re_run_bills_the_released_days_once(engine: Engine, book: int) -> None:
    run(engine, NOV)
    run(engine, DEC)
    nov = only(engine, book, NOV)
    with session_scope(engine) as db:
        invoices.void(db=db, ref=nov.number, actor=ACTOR, clock=FixedClock())
    run(engine, JAN)
    # November's coverage was released by the void: caught up once on January's invoice, 50.00.
    assert lines(engine, only(engine, book, JAN)) == [
        ("catch_up", "Backup (1 Nov – 30 Nov 2026, catch-up)", D("50.00")),
        ("recurring", "Backup (1 Jan – 31 Jan 2027)", D("50.00")),
    ]
    run(engine, JAN)
    run(engine, Period(2027, 2))
    assert lines(engine, only(engine, book, Period(2027, 2))) == [
        ("recurring", "Backup (1 Feb – 28 Feb 2027)", D("50.00")),
    ]


def test_upgrade_counts_existing_lines_as_billed(engine: Engine, book: int) -> None:
    """Lines written before the ledger (no charge_id) become its entries in migration 0012; here the
    same UPDATE is applied by hand to a line stripped of its ledger columns."""
    run(engine, DEC)
    with session_scope(engine) as db:
        db.execute(update(InvoiceLine).values(charge_id=None, charge_version=None))
        db.execute(
            update(InvoiceLine)
            .where(col(InvoiceLine.kind) == "recurring", col(InvoiceLine.source_id).is_not(None))
            .values(charge_id=InvoiceLine.source_id, charge_version=1)
        )
    run(engine, JAN)
    assert [amount for _, _, amount in lines(engine, only(engine, book, JAN))] == [D("50.00")]


def edit_price(engine: Engine, charge_id: int, price: str, **options: Any) -> None:
    with session_scope(engine) as db:
        row = charges.get_recurring_charge(db=db, charge_id=charge_id)
        data = validate_recurring_charge(
            description=row.description,
            unit_price=price,
            quantity=str(row.quantity),
            frequency=row.frequency,
            effective_from=row.effective_from.isoformat(),
        )
        charges.edit_recurring_charge(
            db=db, actor=ACTOR, charge_id=charge_id, data=data, clock=FixedClock(), **options
        )


def test_price_change_effective_mid_month_after_billing(engine: Engine, book: int) -> None:
    nbn = charge(engine, book, "NBN 100", "100", "2026-01-01")
    run(engine, DEC)  # December billed at 100.00
    with pytest.raises(FieldErrors) as refused:  # billed: "from when?" must be answered
        edit_price(engine, nbn, "120")
    assert "change_from" in refused.value.errors
    edit_price(engine, nbn, "120", change_from="2026-12-16")
    run(engine, JAN)
    # Credit 16..31 Dec at the old price: R(100) - R(100·15/31) = 100.00 - 48.39 = 51.61.
    # Bill 16..31 Dec at the new price: R(120) - R(120·15/31) = 120.00 - 58.06 = 61.94. January: 120.00.
    # December nets 100.00 - 51.61 + 61.94 = 110.33 = 48.39 (1..15 at 100) + 61.94 (16..31 at 120).
    assert lines(engine, only(engine, book, JAN))[1:] == [
        (
            "credit",
            "NBN 100 (16 Dec - 31 Dec 2026, credit: price or quantity changed, pro-rata 16/31 days)".replace(
                " - ", " – "
            ),
            D("-51.61"),
        ),
        ("catch_up", "NBN 100 (16 Dec – 31 Dec 2026, catch-up, pro-rata 16/31 days)", D("61.94")),
        ("recurring", "NBN 100 (1 Jan – 31 Jan 2027)", D("120.00")),
    ]


def test_a_charge_never_billed_just_changes(engine: Engine, book: int) -> None:
    nbn = charge(engine, book, "NBN 100", "100", "2026-01-01")
    edit_price(engine, nbn, "120")  # no "from when": nothing was billed at the old price
    run(engine, DEC)
    assert lines(engine, only(engine, book, DEC))[1][2] == D("120.00")


def test_a_draft_whose_credits_now_exceed_its_charges_is_not_regenerated(engine: Engine, book: int) -> None:
    nbn = charge(engine, book, "NBN 100", "100", "2026-01-01")
    run(engine, NOV)
    run(engine, DEC)  # a draft: Backup 50 + NBN 100
    with session_scope(engine) as db:  # NBN ended back on 1 Nov: November's 96.67 and December go
        charges.end_recurring_charge(
            db=db, actor=ACTOR, charge_id=nbn, end_date="2026-11-01", clock=FixedClock()
        )
    dec = only(engine, book, DEC)
    with session_scope(engine) as db, pytest.raises(NotAllowed, match="credits now exceed"):
        invoices.regenerate(db=db, ref=dec.number, actor=ACTOR, clock=FixedClock())
    result = run(engine, DEC, regenerate_drafts=True)
    assert result.regenerated == 0 and "credits for 2026-12 now exceed" in result.warnings[0]
    with session_scope(engine) as db:  # the way out: void it, run again: a credit note
        invoices.void(db=db, ref=dec.number, actor=ACTOR, clock=FixedClock())
    run(engine, DEC)
    # Backup 50.00; NBN credit 2..30 Nov = R(100) - R(100·1/30) = 100.00 - 3.33 = 96.67; total -46.67.
    note = only(engine, book, DEC)
    assert note.doc_type == "credit_note" and note.subtotal == D("-46.67")


def test_a_price_corrected_from_the_charge_start_is_credited_once(engine: Engine, book: int) -> None:
    """Editing the price "from" the version's own start corrects that version in place; the credit
    for what was billed at the old price must net with that bill next month, not come back."""
    nbn = charge(engine, book, "NBN 100", "100", "2026-01-01")
    run(engine, DEC)  # December billed at 100.00
    edit_price(engine, nbn, "120", change_from="2026-01-01")
    run(engine, JAN)
    # December credited at the price billed (-100.00), billed again at 120.00; January 120.00.
    assert [(kind, amount) for kind, _, amount in lines(engine, only(engine, book, JAN))][1:] == [
        ("credit", D("-100.00")),
        ("catch_up", D("120.00")),
        ("recurring", D("120.00")),
    ]
    run(engine, Period(2027, 2))
    run(engine, Period(2027, 3))
    for month in (Period(2027, 2), Period(2027, 3)):  # nothing billed back, nothing credited again
        assert [(kind, amount) for kind, _, amount in lines(engine, only(engine, book, month))] == [
            ("recurring", D("50.00")),
            ("recurring", D("120.00")),
        ]
