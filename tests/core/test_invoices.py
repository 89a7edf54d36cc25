"""Invoice life cycle over a real database: approve, void, reissue, regenerate, paid, overdue."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import charges, invoice_writing, invoices
from core.billrun import run_bill
from core.calculation import Period
from core.charge_validation import validate_once_off
from core.db import session_scope
from core.errors import NotAllowed, NotFound
from models.charges import OnceOffItem
from models.invoices import Invoice
from tests.harness.billbook import ACTOR, DEC, Book, _charge, build_book, invoice_of
from tests.harness.clock import FixedClock
from tests.harness.delivery import actions

D = Decimal


def billed(engine: Engine) -> Book:
    book = build_book(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    return book


def test_load_inputs_matches_billing_inputs(engine: Engine) -> None:
    book = build_book(engine)
    with Session(engine) as db:
        ids = [book.alpha, book.bravo, book.delta, book.golf]
        batched = invoice_writing.load_inputs(db, ids, period=DEC)
        for customer_id in ids:
            assert batched[customer_id].billing == charges.billing_inputs(db=db, customer_id=customer_id)
        assert batched[book.golf].flagged_service_ids == (book.excluded_service,)


def test_approve_then_paid_and_refusals(engine: Engine) -> None:
    billed(engine)
    clock = FixedClock()
    with session_scope(engine) as db:
        with pytest.raises(NotAllowed, match="INV-00001 is still a draft; approve it before"):
            invoices.mark_paid(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
        approved = invoices.approve(db=db, ref="inv-00001", actor=ACTOR, clock=clock)
        assert (approved.status, approved.approved_by) == ("approved", ACTOR)
        assert (
            invoices.approve(db=db, ref="INV-00001", actor=ACTOR, clock=clock).status == "approved"
        )  # no-op
        paid = invoices.mark_paid(db=db, ref=approved.id or 0, actor=ACTOR, clock=clock)
        assert paid.status == "paid" and paid.paid_at is not None
        with pytest.raises(NotAllowed, match="INV-00001 is paid; it can't be voided"):
            invoices.void(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
        with pytest.raises(NotAllowed, match="INV-00001 is paid; only a draft can be approved"):
            invoices.approve(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
        with pytest.raises(NotFound, match="There is no invoice INV-09999"):
            invoices.find(db=db, ref="INV-09999")
        assert actions(db, paid.id) == ["create", "approve", "mark_paid"]


def test_overdue_is_derived_from_due_date_and_today(engine: Engine) -> None:
    billed(engine)  # INV-00001 due 15 Dec (default 14 days), INV-00003 due 8 Dec (7 days)
    clock = FixedClock()
    with session_scope(engine) as db:
        for number in ("INV-00001", "INV-00003"):
            invoices.approve(db=db, ref=number, actor=ACTOR, clock=clock)
    with Session(engine) as db:
        today = date(2026, 12, 10)
        overdue = invoices.list_invoices(db=db, status="overdue", today=today)
        assert [i.number for i in overdue] == ["INV-00003"]
        assert invoices.status_label(overdue[0], today) == "approved, overdue"
        first = invoices.find(db=db, ref="INV-00001")
        assert invoices.status_label(first, today) == "approved"
        assert invoices.status_label(first, date(2026, 12, 16)) == "approved, overdue"
        assert [i.number for i in invoices.list_invoices(db=db, status="draft", period=DEC)] == [
            "INV-00002",
            "INV-00004",
            "INV-00005",
        ]
        assert invoices.list_invoices(db=db, period=Period(2027, 1)) == []
        with pytest.raises(NotAllowed, match="Unknown status"):
            invoices.list_invoices(db=db, status="lost")


def test_void_frees_the_slot_and_releases_once_off_items_then_reissue_gets_a_new_number(
    engine: Engine,
) -> None:
    book = billed(engine)
    clock = FixedClock()
    with session_scope(engine) as db:
        _charge(db, book.delta, "Backup", "20")  # the fix the reissue is for
        new = invoices.reissue(db=db, ref="INV-00004", actor=ACTOR, clock=clock)
        assert (new.number, new.status, new.customer_id) == ("INV-00006", "draft", book.delta)
        old = invoices.find(db=db, ref="INV-00004")
        assert (old.status, new.replaces_invoice_id) == ("void", old.id)
        assert (new.subtotal, new.total) == (D("256.45"), D("282.10"))
        item = db.get(OnceOffItem, book.item)
        assert item is not None and item.invoice_id == new.id  # released by the void, claimed again
        assert actions(db, old.id) == ["create", "void"]
        with pytest.raises(NotAllowed, match="INV-00004 is void; only a draft can be regenerated"):
            invoices.regenerate(db=db, ref="INV-00004", actor=ACTOR, clock=clock)
    # The void one keeps its number; the run sees the live reissue and adds nothing.
    again = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock)
    assert again.created == 0
    # Voiding without reissuing frees the slot: the next run bills the customer again.
    with session_scope(engine) as db:
        invoices.void(db=db, ref="INV-00006", actor=ACTOR, clock=clock, reason="wrong customer")
        assert db.get(OnceOffItem, book.item).invoice_id is None  # type: ignore[union-attr]
    rerun = run_bill(engine=engine, period=DEC, actor=ACTOR, clock=clock)
    assert rerun.number_ranges == [("INV-00007", "INV-00007")]


def test_reissue_with_nothing_to_bill_changes_nothing(engine: Engine) -> None:
    book = billed(engine)
    clock = FixedClock()
    with session_scope(engine) as db:
        charge_ids = [c.id for c in charges.list_recurring_charges(db=db, customer_id=book.alpha)]
        for charge_id in charge_ids:
            assert charge_id is not None
            charges.end_recurring_charge(
                db=db, actor=ACTOR, charge_id=charge_id, end_date="2026-11-30", clock=FixedClock()
            )
    with session_scope(engine) as db:
        with pytest.raises(NotAllowed, match="INV-00001 can't be reissued: Alpha Dental has nothing to bill"):
            invoices.reissue(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
        assert invoices.find(db=db, ref="INV-00001").status == "draft"
        with pytest.raises(NotAllowed, match="nothing to bill for 2026-12 any more; void INV-00001 instead"):
            invoices.regenerate(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
    with Session(engine) as db:
        assert invoices.find(db=db, ref="INV-00001").status == "draft"


def test_regenerate_keeps_the_number_and_reclaims_once_off_items(engine: Engine) -> None:
    book = billed(engine)
    clock = FixedClock()
    with session_scope(engine) as db:
        extra = charges.add_once_off(
            db=db,
            actor=ACTOR,
            customer_id=book.delta,
            data=validate_once_off(
                description="Toner", unit_price="60", quantity="2", item_date="2026-12-02"
            ),
            clock=FixedClock(),
        )
        again = invoices.regenerate(db=db, ref="INV-00004", actor=ACTOR, clock=clock)
        assert (again.number, again.status, again.subtotal) == ("INV-00004", "draft", D("356.45"))
        lines = invoices.lines_of(db=db, invoice_id=again.id or 0)
        assert [line.description for line in lines][1:] == ["Laptop setup", "Toner"]
        assert {
            i.invoice_id
            for i in db.execute(
                select(OnceOffItem).where(OnceOffItem.id.in_([book.item, extra.id]))
            ).scalars()
        } == {again.id}  # type: ignore[attr-defined]
        assert actions(db, again.id) == ["create", "regenerate"]
        invoices.approve(db=db, ref="INV-00004", actor=ACTOR, clock=clock)
        with pytest.raises(NotAllowed, match="INV-00004 is approved; only a draft can be regenerated"):
            invoices.regenerate(db=db, ref="INV-00004", actor=ACTOR, clock=clock)
    with Session(engine) as db:
        assert db.execute(select(Invoice.number)).scalars().all().count("INV-00004") == 1


def test_a_once_off_item_claimed_meanwhile_aborts_the_write(engine: Engine) -> None:
    book = build_book(engine)
    clock = FixedClock()
    with session_scope(engine) as db:
        settings = invoices.billing_settings.load(db)
        customer = invoice_writing.load_customers(db, [book.delta])[book.delta]
        draft = invoice_writing.build_draft(
            customer,
            invoice_writing.load_inputs(db, [book.delta], period=DEC)[book.delta],
            period=DEC,
            settings=settings,
        )
        assert draft is not None
    run_bill(engine=engine, period=Period(2027, 1), actor=ACTOR, clock=clock)  # bills the laptop first
    with Session(engine) as db, pytest.raises(invoice_writing.ClaimConflict):
        invoice_writing.write_new(
            db, [draft], settings=invoices.billing_settings.load(db), actor=ACTOR, clock=clock
        )
    with Session(engine) as db:
        assert invoice_of(db, book.delta, Period(2027, 1)).number == "INV-00003"
        assert db.execute(select(Invoice).where(Invoice.period == "2026-12")).first() is None


def test_the_status_groups_are_members_of_the_one_enum() -> None:
    from core.invoice_states import InvoiceStatus

    assert [s for s in InvoiceStatus if s.owing] == [InvoiceStatus.APPROVED, InvoiceStatus.SENT]
    assert [s for s in InvoiceStatus if s.unsent] == [InvoiceStatus.DRAFT, InvoiceStatus.APPROVED]
    assert [s for s in InvoiceStatus if s.creditable] == [InvoiceStatus.SENT, InvoiceStatus.PAID]
    assert InvoiceStatus("sent") == "sent" and f"{InvoiceStatus.VOID}" == "void"
