"""Usage on invoices: November's usage on the December invoice, summarised, detail CSV attached."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import charges, invoices, licence_feed
from core.billrun import run_bill
from core.calculation import Period
from core.charge_validation import validate_recurring_charge
from core.db import session_scope
from core.delivery import send_invoice
from core.usage_import import import_usage
from models.system import BillingSettings
from models.usage import UsageRecord
from tests.harness.billbook import ACTOR, DEC
from tests.harness.clock import FixedClock
from tests.harness.delivery import SEND_DAY, light_templates, smtp_config
from tests.harness.smtp import SmtpServer
from tests.harness.usage_book import HEADER, build

D = Decimal
USAGE = (
    HEADER
    + "U1,Alpha Dental,,,0298765432,2026-11-03,Calls to mobiles,10,0.10,0.20,\n"
    + "U2,Alpha Dental,,,0298765432,2026-11-20,Calls to mobiles,5.5,0.12,0.20,\n"
    + "U3,Alpha Dental,,,0298765432,2026-11-21,Calls to mobiles,2,0.10,0.25,\n"  # another rate
    + "U4,Alpha Dental,,,,2026-10-30,Data block,1,8.00,10.00,no\n"  # October's, imported late
    + "U5,Alpha Dental,,,0298765432,2026-12-01,Calls to mobiles,99,0.10,0.20,\n"  # December's: January
)


def imported(engine: Engine, text: str = USAGE) -> None:
    with session_scope(engine) as db:
        assert import_usage(db, io.StringIO(text), actor=ACTOR, clock=FixedClock()).ok


def test_november_usage_is_billed_on_the_december_invoice_one_line_per_service_description_rate(
    engine: Engine,
) -> None:
    book = build(engine)
    imported(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        [invoice] = invoices.list_invoices(db=db, customer_id=book.alpha)
        assert invoice.period == "2026-12"
        lines = [
            (ln.kind, ln.description, ln.quantity, ln.unit_price, ln.amount, ln.cost, ln.taxable)
            for ln in invoices.lines_of(db=db, invoice_id=invoice.id or 0)
        ]
        claimed = dict(db.execute(select(UsageRecord.usage_id, UsageRecord.invoice_id)).all())  # type: ignore[call-overload]
    assert lines[1:] == [
        ("usage", "Data block (usage 30 Oct 2026)", D("1"), D("10"), D("10.00"), D("8.00"), False),
        (
            "usage",
            "Calls to mobiles (usage 3 Nov 2026 – 20 Nov 2026)",
            D("15.5"),
            D("0.2"),
            D("3.10"),
            D("1.66"),
            True,
        ),
        ("usage", "Calls to mobiles (usage 21 Nov 2026)", D("2"), D("0.25"), D("0.50"), D("0.20"), True),
    ]
    assert claimed == {"U1": invoice.id, "U2": invoice.id, "U3": invoice.id, "U4": invoice.id, "U5": None}
    assert invoice.total == D("32.63")  # 20.57 taxable + GST 2.06 (2.057) + 10.00 GST-free


def test_usage_is_in_arrears_in_arrears_mode_too(engine: Engine) -> None:
    book = build(engine)
    imported(engine)
    with session_scope(engine) as db:
        db.get(BillingSettings, 1).billing_mode = "arrears"  # type: ignore[union-attr]
        db.flush()
        lines, _ = charges.preview(db=db, customer_id=book.alpha, period=DEC)
    assert [ln.period_end for ln in lines if ln.kind == "usage"] == [
        date(2026, 10, 30),
        date(2026, 11, 20),
        date(2026, 11, 21),
    ]


def test_usage_is_billed_once_rerun_adds_nothing_and_void_gives_it_back(engine: Engine) -> None:
    book = build(engine)
    imported(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    again = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    assert again.created == 0
    jan = Period(2027, 1)
    with session_scope(engine) as db:
        lines, _ = charges.preview(db=db, customer_id=book.alpha, period=jan)
        assert [ln.description for ln in lines if ln.kind == "usage"] == [
            "Calls to mobiles (usage 1 Dec 2026)"
        ]
        [invoice] = invoices.list_invoices(db=db, customer_id=book.alpha)
        invoices.void(db=db, ref=invoice.number, actor=ACTOR, clock=FixedClock())
    with session_scope(engine) as db:
        lines, _ = charges.preview(db=db, customer_id=book.alpha, period=jan)
        # November's usage is back, merged with December's at the same rate.
        assert [ln.quantity for ln in lines if ln.kind == "usage"] == [D("1"), D("114.5"), D("2")]


def test_regenerating_a_draft_keeps_its_usage_and_adds_late_usage(engine: Engine) -> None:
    book = build(engine)
    imported(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    imported(engine, HEADER + "U9,Alpha Dental,,,,2026-11-29,Data block,1,8.00,10.00,no\n")
    with session_scope(engine) as db:
        [invoice] = invoices.list_invoices(db=db, customer_id=book.alpha)
        invoices.regenerate(db=db, ref=invoice.number, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        lines = invoices.lines_of(db=db, invoice_id=invoice.id or 0)
        [data] = [ln for ln in lines if ln.description.startswith("Data block")]
        assert data.quantity == D("2")
        assert (
            db.execute(select(UsageRecord.invoice_id).where(UsageRecord.usage_id == "U9")).scalar_one()
            == invoice.id
        )  # type: ignore[arg-type]


def test_detail_csv_is_attached_to_the_invoice_email_without_cost(engine: Engine, clock: FixedClock) -> None:
    book = build(engine)
    imported(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        [invoice] = invoices.list_invoices(db=db, customer_id=book.alpha)
    server = SmtpServer().start()
    try:
        clock.set(SEND_DAY)
        result = send_invoice(
            engine=engine,
            smtp=smtp_config(server.port),
            invoice_ref=invoice.number,
            actor=ACTOR,
            clock=clock,
            templates_dir=light_templates(),
        )
        assert result.ok, result.message
        [got] = server.received
    finally:
        server.stop()
    attachments = {a.get_filename(): a for a in got.message.iter_attachments()}
    assert set(attachments) == {f"{invoice.number}.pdf", f"{invoice.number}-usage.csv"}
    detail = attachments[f"{invoice.number}-usage.csv"]
    assert detail.get_content_type() == "text/csv"
    rows = list(csv.reader(io.StringIO(detail.get_content())))
    assert rows[0] == [
        "usage_id",
        "date",
        "service",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "gst",
    ]
    assert rows[1] == ["U4", "2026-10-30", "", "Data block", "1", "10", "10.00", "GST free"]
    assert [r[0] for r in rows[1:]] == ["U4", "U1", "U2", "U3"]
    assert rows[2][2] == "0298765432"
    text = detail.get_content()
    assert "0.12" not in text and "8.00" not in text  # cost never reaches the customer


def test_an_invoice_without_usage_has_no_csv(engine: Engine, clock: FixedClock) -> None:
    book = build(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        [invoice] = invoices.list_invoices(db=db, customer_id=book.alpha)
    server = SmtpServer().start()
    try:
        clock.set(SEND_DAY)
        send_invoice(
            engine=engine,
            smtp=smtp_config(server.port),
            invoice_ref=invoice.number,
            actor=ACTOR,
            clock=clock,
            templates_dir=light_templates(),
        )
        [got] = server.received
    finally:
        server.stop()
    assert [a.get_filename() for a in got.message.iter_attachments()] == [f"{invoice.number}.pdf"]


def test_licence_quantity_follows_the_feed_and_the_preview_says_so(engine: Engine) -> None:
    book = build(engine)
    with session_scope(engine) as db:
        charges.add_recurring_charge(
            db=db,
            actor=ACTOR,
            customer_id=book.bravo,
            data=validate_recurring_charge(
                description="Microsoft 365 Business Premium",
                unit_price="36.30",
                unit_cost="33.00",
                quantity="10",
                frequency="monthly",
                effective_from="2026-01-01",
                quantity_feed="m365-bravo",
            ),
            clock=FixedClock(),
        )
        report = licence_feed.import_counts(
            db,
            io.StringIO(
                "feed,date,quantity\nm365-bravo,2026-11-20,12\nm365-bravo,2026-12-03,14\nm365-bravo,2027-01-05,3\n"
            ),
            actor=ACTOR,
            clock=FixedClock(),
        )
        assert report.ok and report.written == 3
    with session_scope(engine) as db:
        [change] = licence_feed.changes(db=db, customer_id=book.bravo, period=DEC)
        assert str(change) == "Quantity of Microsoft 365 Business Premium follows feed m365-bravo: 10 → 14"
        lines, _ = charges.preview(db=db, customer_id=book.bravo, period=DEC)
        assert [(ln.quantity, ln.amount, ln.cost) for ln in lines] == [(D("14"), D("508.20"), D("462.00"))]
        nov, _ = charges.preview(db=db, customer_id=book.bravo, period=Period(2026, 11))
        assert nov[0].quantity == D("12")  # the latest count on or before the month's end
        oct_, _ = charges.preview(db=db, customer_id=book.bravo, period=Period(2026, 10))
        assert oct_[0].quantity == D("10")  # no count yet: the charge's own quantity
        db.get(BillingSettings, 1).billing_mode = "arrears"  # type: ignore[union-attr]
        db.flush()
        arrears, _ = charges.preview(db=db, customer_id=book.bravo, period=Period(2027, 1))
        assert arrears[0].quantity == D("14")  # arrears: January's invoice bills December
        db.get(BillingSettings, 1).billing_mode = "advance"  # type: ignore[union-attr]
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        [invoice] = invoices.list_invoices(db=db, customer_id=book.bravo)
        [line] = invoices.lines_of(db=db, invoice_id=invoice.id or 0)
        assert (line.quantity, line.amount) == (D("14"), D("508.20"))


def test_bad_licence_counts_write_nothing(engine: Engine) -> None:
    build(engine)
    with session_scope(engine) as db:
        report = licence_feed.import_counts(
            db,
            io.StringIO("feed,date,quantity\nf,2026-11-20,12\nf,20/11/2026,1\n,2026-11-21,x\n"),
            actor=ACTOR,
            clock=FixedClock(),
        )
        assert not report.ok and [e.split(":")[0] for e in report.errors or []] == ["row 3", "row 4"]
        assert licence_feed.latest_counts(db, ["f"], month=DEC) == {}


def test_claim_takes_exactly_what_was_read_newer_usage_waits_and_a_lost_record_aborts(engine: Engine) -> None:
    import pytest
    from sqlalchemy import delete

    from core import billing_settings, numbering
    from core.invoice_writing import ClaimConflict, build_draft, load_customers, load_inputs, write_new

    book = build(engine)
    imported(
        engine,
        HEADER
        + "W1,Alpha Dental,,,,2026-11-03,Calls,1,0.10,0.20,\nW2,Alpha Dental,,,,2026-11-04,Calls,1,0.10,0.20,\n",
    )

    def draft_now(db):  # type: ignore[no-untyped-def]
        settings = billing_settings.load(db)
        numbering.lock_series(db, settings=settings)
        customer = load_customers(db, [book.alpha])[book.alpha]
        return settings, build_draft(
            customer, load_inputs(db, [book.alpha], period=DEC)[book.alpha], period=DEC, settings=settings
        )

    with session_scope(engine) as db:
        settings, draft = draft_now(db)
        assert len(draft.usage_ids) == 2
        # Usage arriving after the read (a higher id) is not taken by this invoice...
        assert import_usage(
            db,
            io.StringIO(HEADER + "W3,Alpha Dental,,,,2026-11-05,Calls,1,0.10,0.20,\n"),
            actor=ACTOR,
            clock=FixedClock(),
        ).ok
        [written] = write_new(db, [draft], settings=settings, actor=ACTOR, clock=FixedClock())
        claimed = dict(db.execute(select(UsageRecord.usage_id, UsageRecord.invoice_id)).all())  # type: ignore[call-overload]
        assert claimed == {"W1": written.id, "W2": written.id, "W3": None}  # ...it waits for the next
    with session_scope(engine) as db:
        invoices.void(db=db, ref=written.number, actor=ACTOR, clock=FixedClock())
    with session_scope(engine) as db:
        settings, draft = draft_now(db)
        db.execute(delete(UsageRecord).where(UsageRecord.usage_id == "W1"))  # type: ignore[arg-type]
        with pytest.raises(ClaimConflict):
            write_new(db, [draft], settings=settings, actor=ACTOR, clock=FixedClock())
        db.rollback()
