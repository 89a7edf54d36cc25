"""The bill run over a real database (SQLite and PostgreSQL): the right invoices, once, even when
two processes run it at the same moment."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from core import charges, invoice_writing, invoices
from core.billrun import preview_bill, run_bill
from core.calculation import Period
from core.charge_validation import validate_once_off
from core.db import make_engine, session_scope
from models.charges import OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceExclusion, InvoiceLine
from models.system import AuditLog, BillingSettings
from tests.factories import configure
from tests.harness.billbook import ACTOR, DEC, _charge, build_book, invoice_of
from tests.harness.clock import FixedClock

D = Decimal


def line_amounts(db: Session, invoice: Invoice) -> list[tuple[str, Decimal, bool]]:
    lines = invoices.lines_of(db=db, invoice_id=invoice.id or 0)
    return [(line.description, line.amount, line.taxable) for line in lines]


def test_bill_run_over_a_small_book(engine: Engine) -> None:
    book = build_book(engine)
    clock = FixedClock()
    result = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock, batch_size=3)
    assert (result.created, result.skipped_existing, result.nothing_to_bill, result.regenerated) == (
        5,
        0,
        1,
        0,
    )
    assert list(result.invoice_numbers()) == [f"INV-0000{n}" for n in range(1, 6)]
    assert result.number_ranges == [("INV-00001", "INV-00005")]

    with Session(engine) as db:
        alpha = invoice_of(db, book.alpha)
        assert (alpha.number, alpha.status, alpha.issue_date, alpha.due_date) == (
            "INV-00001",
            "draft",
            date(2026, 12, 1),
            date(2026, 12, 15),
        )
        assert (alpha.subtotal, alpha.tax, alpha.total) == (D("200.00"), D("20.00"), D("220.00"))
        assert (alpha.customer_name, alpha.customer_email, alpha.currency) == (
            "Alpha Dental",
            "ap@alpha.example",
            "AUD",
        )
        assert (alpha.tax_rate, alpha.tax_rounding, alpha.payment_terms_days) == (
            D("0.1"),
            "per-line-half-up",
            14,
        )

        bravo = invoice_of(db, book.bravo)
        assert line_amounts(db, bravo) == [
            ("Managed server (11 Dec – 31 Dec 2026, pro-rata 21/31 days)", D("210.00"), True),
            ("Offsite backup (export) (1 Dec – 31 Dec 2026)", D("50.00"), False),
        ]
        assert (bravo.number, bravo.subtotal, bravo.tax, bravo.total) == (
            "INV-00002",
            D("260"),
            D("21"),
            D("281"),
        )

        coastal = invoice_of(db, book.coastal)  # quarterly from June bills in December; annual not
        assert [a for _, a, _ in line_amounts(db, coastal)] == [D("300.00")]
        assert (coastal.number, coastal.due_date, coastal.payment_terms_days) == (
            "INV-00003",
            date(2026, 12, 8),
            7,
        )

        delta = invoice_of(db, book.delta)
        assert [a for _, a, _ in line_amounts(db, delta)] == [D("136.50"), D("99.95")]
        assert (delta.subtotal, delta.tax, delta.total) == (
            D("236.45"),
            D("23.65"),
            D("260.10"),
        )  # 23.645 half-up
        items = db.execute(select(OnceOffItem).where(OnceOffItem.customer_id == book.delta)).scalars().all()
        assert {i.description: i.invoice_id for i in items} == {
            "Laptop setup": delta.id,
            "Onsite visit": None,
        }

        golf = invoice_of(db, book.golf)  # the excluded service's PBX charge is left off, once
        assert [d for d, _, _ in line_amounts(db, golf)] == ["Helpdesk (1 Dec – 31 Dec 2026)"]
        assert golf.customer_name == "Golf & Sons <Pty>"
        assert db.get(Service, book.excluded_service).exclude_next_invoice is False  # type: ignore[union-attr]
        assert db.execute(select(InvoiceExclusion.period)).scalars().all() == ["2026-12"]

        billed = set(db.execute(select(Invoice.customer_id)).scalars())
        assert billed == {book.alpha, book.bravo, book.coastal, book.delta, book.golf}  # not echo, foxtrot
        audited = db.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.entity == "invoice", AuditLog.action == "create")
        ).scalar_one()
        assert audited == 5
        assert result.total == sum(db.execute(select(Invoice.total)).scalars(), D(0))

    # A second run (and a regenerating one) creates nothing; the exclusion still holds in December.
    again = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock)
    assert (again.created, again.skipped_existing, again.nothing_to_bill) == (0, 5, 1)
    redo = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock, regenerate_drafts=True)
    assert (redo.created, redo.regenerated, redo.skipped_existing) == (0, 5, 0)
    assert redo.regenerated_numbers == [f"INV-0000{n}" for n in range(1, 6)]
    with Session(engine) as db:
        assert [d for d, _, _ in line_amounts(db, invoice_of(db, book.golf))] == [
            "Helpdesk (1 Dec – 31 Dec 2026)"
        ]
        assert db.execute(select(func.count()).select_from(Invoice)).scalar_one() == 5
        assert db.execute(select(func.count()).select_from(InvoiceLine)).scalar_one() == 7

    # January: the PBX is billed again, the onsite visit goes on, numbering carries on.
    january = run_bill(engine=engine, period=Period(2027, 1), actor=ACTOR, clock=clock)
    assert january.number_ranges == [("INV-00006", "INV-00009")]  # coastal has nothing in January
    with Session(engine) as db:
        golf = invoice_of(db, book.golf, Period(2027, 1))
        assert [a for _, a, _ in line_amounts(db, golf)] == [D("80.00"), D("120.00")]
        delta = invoice_of(db, book.delta, Period(2027, 1))
        assert [a for _, a, _ in line_amounts(db, delta)] == [D("136.50"), D("150.00")]


def test_dry_run_and_preview_write_nothing(engine: Engine) -> None:
    build_book(engine)
    dry = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock(), dry_run=True)
    assert (dry.created, dry.nothing_to_bill, dry.total) == (5, 1, D("1223.10"))
    assert dry.number_ranges == []
    with Session(engine) as db:
        preview = preview_bill(db=db, period=DEC)
        assert db.execute(select(func.count()).select_from(Invoice)).scalar_one() == 0
        assert (
            db.execute(
                select(func.count()).select_from(Service).where(col(Service.exclude_next_invoice))
            ).scalar_one()
            == 1
        )
    assert (preview.count, preview.total, preview.already_invoiced) == (5, D("1223.10"), 0)
    assert next(i.customer_name for i in preview.items) == "Alpha Dental"
    real = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    assert real.total == dry.total
    with Session(engine) as db:
        assert preview_bill(db=db, period=DEC).already_invoiced == 5


def test_regenerate_drafts_keeps_numbers_and_leaves_approved_alone(engine: Engine) -> None:
    book = build_book(engine)
    clock = FixedClock()
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock)
    with session_scope(engine) as db:
        invoices.approve(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
        _charge(db, book.alpha, "Extra licence", "10")
        _charge(db, book.bravo, "Extra licence", "10")
    plain = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock)
    assert (plain.created, plain.regenerated) == (0, 0)
    result = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock, regenerate_drafts=True)
    assert (result.regenerated, result.skipped_existing) == (4, 1)
    with Session(engine) as db:
        assert invoice_of(db, book.alpha).total == D("220.00")  # approved: untouched
        bravo = invoice_of(db, book.bravo)
        assert (bravo.number, bravo.total) == ("INV-00002", D("292.00"))


def test_auto_approve_and_a_new_prefix_starts_a_new_series(engine: Engine) -> None:
    book = build_book(engine)
    with session_scope(engine) as db:
        settings = db.get(BillingSettings, 1)
        assert settings is not None
        settings.auto_approve = True
        settings.invoice_prefix = "MSP/"
        settings.invoice_start_number = 500
        settings.invoice_number_padding = 4
    result = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    assert result.number_ranges == [("MSP/0500", "MSP/0504")]
    with Session(engine) as db:
        alpha = invoice_of(db, book.alpha)
        assert (alpha.status, alpha.approved_by, alpha.series, alpha.sequence) == (
            "approved",
            ACTOR,
            "MSP/",
            500,
        )


def test_a_batch_with_one_once_off_item_claimed_meanwhile_writes_nothing(engine: Engine) -> None:
    """Items are claimed in one statement (an executemany on SQLite); its row count must catch one lost item."""
    book = build_book(engine)
    clock = FixedClock()
    with session_scope(engine) as db:
        charges.add_once_off(
            db=db,
            actor=ACTOR,
            customer_id=book.alpha,
            data=validate_once_off(
                description="Monitor", unit_price="250", quantity="1", item_date="2026-11-02"
            ),
            clock=FixedClock(),
        )
    with Session(engine) as db:
        settings = invoices.billing_settings.load(db)
        ids = [book.alpha, book.delta]
        found = invoice_writing.load_customers(db, ids)
        inputs = invoice_writing.load_inputs(db, ids, period=DEC)
        drafts = [
            invoice_writing.build_draft(found[c], inputs[c], period=DEC, settings=settings) for c in ids
        ]
        assert all(d is not None and d.once_off_ids for d in drafts)
        db.rollback()
    run_bill(engine=engine, period=Period(2027, 1), actor=ACTOR, clock=clock)  # takes both items
    with session_scope(engine) as db:  # ...and gives alpha's back: now only delta's is taken
        taken = invoice_of(db, book.alpha, Period(2027, 1)).number
        invoices.void(db=db, ref=taken, actor=ACTOR, clock=clock)
    with Session(engine) as db, pytest.raises(invoice_writing.ClaimConflict):
        invoice_writing.write_new(
            db, drafts, settings=invoices.billing_settings.load(db), actor=ACTOR, clock=clock
        )  # type: ignore[arg-type]
    with Session(engine) as db:
        assert db.execute(select(Invoice).where(Invoice.period == "2026-12")).first() is None
        alpha_item = db.execute(
            select(OnceOffItem.invoice_id).where(OnceOffItem.description == "Monitor")
        ).scalar_one()
        assert alpha_item is None  # the claim that did match was rolled back with the rest


def test_writing_over_a_live_invoice_is_the_integrity_error_the_run_retries_on(engine: Engine) -> None:
    """A batch that loses a (customer, period) slot is retried one customer at a time because writing
    raises SQLAlchemy's IntegrityError; on PostgreSQL the rows go with COPY, which must raise it too."""
    book = build_book(engine)
    clock = FixedClock()
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock)
    with Session(engine) as db:
        settings = invoices.billing_settings.load(db)
        found = invoice_writing.load_customers(db, [book.alpha])
        inputs = invoice_writing.load_inputs(db, [book.alpha], period=Period(2027, 1))
        january = invoice_writing.build_draft(
            found[book.alpha], inputs[book.alpha], period=Period(2027, 1), settings=settings
        )
        assert january is not None
        taken = replace(january, period=DEC)  # December's slot: alpha's December invoice holds it
        with pytest.raises(IntegrityError):
            invoice_writing.write_new(db, [taken], settings=settings, actor=ACTOR, clock=clock)
        db.rollback()
    with Session(engine) as db:
        assert db.execute(select(func.count()).select_from(Invoice)).scalar_one() == 5  # nothing half-written
        assert db.execute(select(func.count()).select_from(InvoiceLine)).scalar_one() == 7


def _run_in_process(url: str, barrier: Any, results: Any) -> None:
    """A bill run in a separate process, started at the same moment as its twin."""
    engine = make_engine(url)
    barrier.wait()
    result = run_bill(engine=engine, period=DEC, actor="system:race", clock=FixedClock(), batch_size=7)
    results.put(
        (result.created, result.skipped_existing, result.nothing_to_bill, list(result.invoice_numbers()))
    )
    engine.dispose()


def test_two_concurrent_runs_in_separate_processes_bill_each_customer_once(engine: Engine) -> None:
    configure(engine)
    customers_n = 60
    with session_scope(engine) as db:  # a bulk book: a charge and a once-off item each (two without)
        now = FixedClock().now()
        ids = [
            db.execute(
                insert(EndCustomer).values(
                    company_name=f"Race {i:03d}",
                    name_key=f"race {i:03d}",
                    created_by="t",
                    updated_by="t",
                    created_at=now,
                    updated_at=now,
                    psa_inactive=False,
                )
            ).inserted_primary_key[0]
            for i in range(customers_n)
        ]
        common = {"created_by": "t", "updated_by": "t", "created_at": now, "updated_at": now, "taxable": True}
        db.execute(
            insert(RecurringCharge),
            [
                {
                    "customer_id": c,
                    "description": "Seat",
                    "unit_price": D("10"),
                    "quantity": D("1"),
                    "frequency": "monthly",
                    "effective_from": date(2026, 1, 1),
                    **common,
                }
                for c in ids[2:]
            ],
        )
        db.execute(
            insert(OnceOffItem),
            [
                {
                    "customer_id": c,
                    "description": "Cable",
                    "unit_price": D("5"),
                    "quantity": D("1"),
                    "item_date": date(2026, 12, 3),
                    **common,
                }
                for c in ids[2:]
            ],
        )
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [context.Process(target=_run_in_process, args=(url, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    billed = customers_n - 2
    assert sum(o[0] for o in outcomes) == billed
    assert sum(o[1] for o in outcomes) == billed  # what one run created, the other skipped
    assert all(o[2] == 2 for o in outcomes)
    numbers = sorted(n for o in outcomes for n in o[3])
    assert numbers == [f"INV-{n:05d}" for n in range(1, billed + 1)]  # unique and gapless
    with Session(engine) as db:
        stored = db.execute(select(Invoice.number, Invoice.customer_id)).all()
        assert sorted(n for n, _ in stored) == numbers
        assert len({c for _, c in stored}) == billed
        items = db.execute(select(OnceOffItem.invoice_id)).scalars().all()
        assert None not in items and len(set(items)) == billed  # each item on exactly one invoice
        cable_lines = db.execute(
            select(func.count()).select_from(InvoiceLine).where(InvoiceLine.kind == "once_off")
        ).scalar_one()
        assert cable_lines == billed
        assert {t for t in db.execute(select(Invoice.total)).scalars()} == {D("16.50")}
