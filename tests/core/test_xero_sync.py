"""Pushing to Xero and reading payments back, against the fake Xero built from Xero's OpenAPI
document (every request validated against it), over both databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import invoices, reminders, xero_payments, xero_sync
from core.db import session_scope
from core.errors import NotAllowed
from core.xero_documents import CREDIT_NOTE, DocLine, Document, Mapping, to_xero
from models.customers import EndCustomer
from models.invoices import Invoice
from models.xero import XeroDocument
from tests.harness.billbook import ACTOR
from tests.harness.clock import BUSINESS_ZONE, FixedClock
from tests.harness.fake_xero import FakeXero
from tests.harness.xero_setup import billed_month, client, map_codes, mark_sent

NAMES = ["Alpha Dental", "Bravo Legal", "Charlie Cafe", "Delta Freight", "Echo Clinic"]


@pytest.fixture
def fake(clock: FixedClock) -> Iterator[FakeXero]:
    server = FakeXero(clock=clock, hold_seconds=5).start()
    yield server
    server.stop()
    assert server.violations == [], "requests departed from Xero's OpenAPI document"


def ours(engine: Engine) -> dict[str, Invoice]:
    with session_scope(engine) as db:
        return {i.number: i for i in invoices.list_invoices(db=db)}


def docs(engine: Engine) -> dict[str, XeroDocument]:
    with session_scope(engine) as db:
        return {d.number: d for d in db.execute(select(XeroDocument)).scalars()}


def test_a_month_pushed_has_xero_totals_equal_to_ours(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES)
    map_codes(engine)
    with client(engine, fake, clock) as xero:
        report = xero_sync.push(engine, xero, clock=clock)
        assert sorted(report.pushed) == sorted(numbers.values()) and report.ok
        # the organisation (its short code, once), one contact list, one batch of contacts, one of invoices
        assert xero.requests == 4
    mine = ours(engine)
    cents_apart = 0
    for number, invoice in mine.items():
        [theirs] = fake.by_number(number)
        assert (theirs.subtotal, theirs.total_tax, theirs.total) == (
            invoice.subtotal,
            invoice.tax,
            invoice.total,
        )
        per_line = sum(
            (Decimal(line["LineAmount"]) * Decimal("0.1")).quantize(Decimal("0.01"))
            for line in theirs.lines
            if line["TaxType"] == "OUTPUT"
        )
        cents_apart += per_line != invoice.tax
        assert theirs.data["Status"] == "AUTHORISED" and theirs.data["LineAmountTypes"] == "Exclusive"
        assert theirs.data["DueDate"] == invoice.due_date.isoformat()
    assert cents_apart, "the book should include invoices where Xero's own per-line GST would be a cent out"
    states = docs(engine)
    assert {d.state for d in states.values()} == {"pushed"}
    assert all(d.xero_id for d in states.values())
    with client(engine, fake, clock) as xero:  # a second push sends nothing
        again = xero_sync.push(engine, xero, clock=clock)
        assert again.pushed == [] and xero.requests == 0


def test_drafts_are_refused_by_name_and_not_pushed_otherwise(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES[:2], approve=False)
    map_codes(engine)
    with client(engine, fake, clock) as xero:
        with pytest.raises(NotAllowed, match="approve"):
            xero_sync.push(engine, xero, clock=clock, refs=[numbers["Alpha Dental"]])
        assert xero_sync.push(engine, xero, clock=clock).pushed == []
    assert fake.invoices() == []


def test_push_without_an_account_code_is_refused(engine: Engine, fake: FakeXero, clock: FixedClock) -> None:
    billed_month(engine, NAMES[:1])
    with client(engine, fake, clock) as xero, pytest.raises(NotAllowed, match="account code"):
        xero_sync.push(engine, xero, clock=clock)


def test_a_retry_after_a_timeout_creates_nothing_twice(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    billed_month(engine, NAMES[:3])
    map_codes(engine)
    fake.fail_next("POST /Invoices", hang_after=True)  # Xero saves them, the answer never comes
    with client(engine, fake, clock, timeout=0.5) as xero:
        report = xero_sync.push(engine, xero, clock=clock)
    assert report.ok and len(report.pushed) == 3
    assert len(fake.api_calls("POST", "/Invoices")) == 2  # the retry carried the same Idempotency-Key
    assert all(len(fake.by_number(n)) == 1 for n in report.pushed)


def test_an_unknown_outcome_is_looked_up_before_creating_again(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    billed_month(engine, NAMES[:2])
    map_codes(engine)
    fake.fail_next("POST /Invoices", times=5, hang_after=True)
    with client(engine, fake, clock, timeout=0.3) as xero:
        report = xero_sync.push(engine, xero, clock=clock)
    assert len(report.failed) == 2
    assert all(
        d.state == "failed" and d.outcome_unknown and "timed out" in (d.error or "")
        for d in docs(engine).values()
    )
    assert xero_sync.status_line(next(iter(docs(engine).values()))).startswith("not pushed: Xero timed out")
    fake.release()  # the held answers go (to nobody); Xero's concurrency slots free up
    fake._idempotent.clear()  # even if Xero forgot the key, nothing is created twice
    with client(engine, fake, clock) as xero:
        again = xero_sync.push(engine, xero, clock=clock)
    assert again.ok and len(again.pushed) == 2
    assert all(len(fake.by_number(n)) == 1 for n in again.pushed)


def test_an_outage_leaves_invoices_not_pushed_and_the_next_run_pushes_them(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    billed_month(engine, NAMES[:2])
    map_codes(engine)
    fake.fail_next("POST /Invoices", times=5, status=503)
    with client(engine, fake, clock) as xero:
        first = xero_sync.push(engine, xero, clock=clock)
    assert len(first.failed) == 2 and "HTTP 503" in next(iter(first.failed.values()))
    assert fake.invoices() == []
    with client(engine, fake, clock) as xero:
        second = xero_sync.push(engine, xero, clock=clock)
    assert second.ok and len(second.pushed) == 2


def test_two_replicas_pushing_at_once_create_each_invoice_once(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES)
    map_codes(engine)
    barrier = threading.Barrier(2)
    reports = []

    def replica() -> None:
        with client(engine, fake, clock) as xero:
            barrier.wait()
            reports.append(xero_sync.push(engine, xero, clock=clock))

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(len(fake.by_number(n)) == 1 for n in numbers.values())
    assert len(fake.contacts) == len(NAMES)
    assert {d.state for d in docs(engine).values()} == {"pushed"}


def test_per_item_validation_errors_are_kept_against_their_invoice(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES[:3])
    map_codes(engine)
    squatter = fake.add_contact("Someone Else")
    with client(engine, fake, clock) as xero:  # someone typed one of our numbers into Xero by hand
        xero.save(
            "Invoices",
            [
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": squatter},
                    "InvoiceNumber": numbers["Bravo Legal"],
                    "Status": "AUTHORISED",
                    "DueDate": "2026-12-15",
                    "LineItems": [{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}],
                }
            ],
            key="manual",
        )
        report = xero_sync.push(engine, xero, clock=clock)
    assert sorted(report.pushed) == sorted([numbers["Alpha Dental"], numbers["Charlie Cafe"]])
    assert report.failed == {numbers["Bravo Legal"]: "Invoice # must be unique."}
    assert (
        xero_sync.status_line(docs(engine)[numbers["Bravo Legal"]]) == "not pushed: Invoice # must be unique."
    )


def test_contacts_matched_by_number_then_name_else_created_and_duplicates_go_to_a_person(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    billed_month(engine, NAMES[:4])
    map_codes(engine)
    with session_scope(engine) as db:
        ids = {c.company_name: c.id for c in db.execute(select(EndCustomer)).scalars()}
    by_number = fake.add_contact("Alpha Dental (old name)", number=f"rebill-{ids['Alpha Dental']}")
    by_name = fake.add_contact("bravo legal")
    fake.add_contact("Charlie Cafe")
    fake.add_contact("Charlie Cafe")
    with client(engine, fake, clock) as xero:
        report = xero_sync.push(engine, xero, clock=clock)
    by_customer = {
        fake.docs[d.xero_id].data["Contact"]["ContactID"] for d in docs(engine).values() if d.xero_id
    }
    assert {by_number, by_name} <= by_customer
    [charlie] = [n for n, d in docs(engine).items() if d.state == "exception"]
    assert "2 Xero contacts are named 'Charlie Cafe'" in report.exceptions[charlie]
    assert len(fake.contacts) == 5  # Delta created; nothing guessed for Charlie
    created = [c for c in fake.contacts.values() if c["Name"] == "Delta Freight"]
    assert created[0]["ContactNumber"] == f"rebill-{ids['Delta Freight']}" and created[0]["EmailAddress"]


def test_a_payment_in_xero_marks_ours_paid_and_stops_its_reminders(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES[:2])
    map_codes(engine)
    for number in numbers.values():
        mark_sent(engine, number, clock)
    with client(engine, fake, clock) as xero:
        xero_sync.push(engine, xero, clock=clock)
    alpha, bravo = numbers["Alpha Dental"], numbers["Bravo Legal"]
    due = ours(engine)[alpha].due_date
    on_reminder_day = due.replace(day=due.day + 1)
    with session_scope(engine) as db:
        assert {
            i.number for i, _ in reminders.reminders_due(db, today=on_reminder_day, zone=BUSINESS_ZONE)
        } == {alpha, bravo}
    clock.advance(hours=1)
    fake.record_payment(alpha, ours(engine)[alpha].total, date(2026, 12, 10))
    fake.record_payment(bravo, Decimal("5.00"), date(2026, 12, 10))
    with client(engine, fake, clock) as xero:
        report = xero_payments.pull_payments(engine, xero, clock=clock)
        calls = fake.api_calls("GET", "/Invoices")
        assert "If-Modified-Since" not in calls[-1].headers  # first read: everything
        assert report.paid == [alpha] and report.part_paid == [bravo]
        clock.advance(minutes=30)
        assert xero_payments.pull_payments(engine, xero, clock=clock).paid == []
        assert "If-Modified-Since" in fake.api_calls("GET", "/Invoices")[-1].headers
    mine = ours(engine)
    assert (
        mine[alpha].status == "paid"
        and mine[alpha].paid_at is not None
        and mine[alpha].paid_at.date() == date(2026, 12, 10)
    )
    assert mine[bravo].status == "sent"
    assert "part-paid" in xero_sync.status_line(docs(engine)[bravo])
    with session_scope(engine) as db:
        assert {
            i.number for i, _ in reminders.reminders_due(db, today=on_reminder_day, zone=BUSINESS_ZONE)
        } == {bravo}


def test_void_is_mirrored_and_a_paid_one_goes_to_a_person(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES[:2])
    map_codes(engine)
    with client(engine, fake, clock) as xero:
        xero_sync.push(engine, xero, clock=clock)
    alpha, bravo = numbers["Alpha Dental"], numbers["Bravo Legal"]
    fake.record_payment(bravo, Decimal("1.00"), date(2026, 12, 3))
    with session_scope(engine) as db:
        invoices.void(db=db, ref=alpha, actor=ACTOR, clock=clock)
        invoices.void(db=db, ref=bravo, actor=ACTOR, clock=clock)
    with client(engine, fake, clock) as xero:
        report = xero_sync.push(engine, xero, clock=clock)
    assert report.voided == [alpha]
    assert fake.by_number(alpha)[0].status == "VOIDED"
    assert "payment" in report.exceptions[bravo] and fake.by_number(bravo)[0].status == "AUTHORISED"
    assert docs(engine)[bravo].state == "exception"


def test_a_credit_note_is_pushed_and_allocated_to_its_invoice(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    numbers = billed_month(engine, NAMES[:1])
    map_codes(engine)
    with client(engine, fake, clock) as xero:
        xero_sync.push(engine, xero, clock=clock)
        invoice = ours(engine)[numbers["Alpha Dental"]]
        assert invoice.id is not None
        credit = Document(
            kind=CREDIT_NOTE,
            local_id=1,
            number="CN-00001",
            customer_id=invoice.customer_id,
            issue_date=date(2026, 12, 5),
            due_date=None,
            currency="AUD",
            reference=f"credit for {invoice.number}",
            lines=(
                DocLine(
                    "Phone line not delivered",
                    Decimal(1),
                    Decimal("10.05"),
                    Decimal("10.05"),
                    Decimal("1.01"),
                    True,
                ),
            ),
            total=Decimal("11.06"),
            allocate_to=invoice.number,
        )
        with session_scope(engine) as db:
            xero_sync._ensure_rows(db, [(CREDIT_NOTE, 1, "CN-00001")], clock=clock)
        _token, rows = xero_sync._claim(engine, CREDIT_NOTE, [1], ("pending",), clock)
        report = xero_sync.PushReport()
        xero_sync.push_documents(
            engine,
            xero,
            rows,
            {1: credit},
            mapping=Mapping("200", "OUTPUT", "EXEMPTOUTPUT"),
            clock=clock,
            report=report,
        )
    assert report.ok and report.pushed == ["CN-00001"]
    [note] = fake.by_number("CN-00001", kind=CREDIT_NOTE)
    assert note.data["Type"] == "ACCRECCREDIT" and note.total == Decimal("11.06")
    [theirs] = fake.by_number(invoice.number)
    assert theirs.amount_due == invoice.total - Decimal("11.06")


def test_the_credit_note_mapping_names_what_xero_expects() -> None:
    doc = Document(
        kind=CREDIT_NOTE,
        local_id=7,
        number="CN-7",
        customer_id=1,
        issue_date=date(2026, 12, 5),
        due_date=None,
        currency="AUD",
        reference="r",
        lines=(DocLine("x", Decimal(1), Decimal(2), Decimal(2), Decimal("0.20"), True),),
        total=Decimal("2.20"),
    )
    payload = to_xero(doc, contact_id="c", mapping=Mapping("200", "OUTPUT", "EXEMPTOUTPUT", "DRAFT"))
    assert (
        payload["Type"] == "ACCRECCREDIT"
        and payload["CreditNoteNumber"] == "CN-7"
        and "InvoiceNumber" not in payload
    )
    assert payload["Status"] == "AUTHORISED"  # it has to be, to be allocated
    assert payload["LineItems"][0]["TaxAmount"] == Decimal("0.20")


def test_a_refused_token_leaves_each_invoice_not_pushed_with_the_reason(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    from tests.harness.xero_setup import connect_standard

    billed_month(engine, NAMES[:2])
    map_codes(engine)
    config = connect_standard(engine, fake, clock)
    fake.expire_refresh_tokens()
    clock.advance(minutes=31)
    with client(engine, fake, clock, config=config) as xero:
        report = xero_sync.push(engine, xero, clock=clock)
    assert len(report.failed) == 2
    assert all(
        xero_sync.status_line(d).startswith("not pushed: Xero refused the stored refresh token")
        for d in docs(engine).values()
    )
    assert fake.token_grants.count("refresh_token") == 1 and fake.invoices() == []


def test_draft_status_in_xero_is_deleted_not_voided_and_psa_references_match_contacts(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    from sqlalchemy import update as sql_update

    numbers = billed_month(engine, NAMES[:2])
    map_codes(engine, status="DRAFT")
    with session_scope(engine) as db:
        db.execute(
            sql_update(EndCustomer)
            .where(EndCustomer.company_name == "Alpha Dental")
            .values(psa_kind="halopsa", psa_ref="H-77")
        )
    by_psa = fake.add_contact("Alpha Dental Group (in Xero)", number="H-77")
    with client(engine, fake, clock) as xero:
        xero_sync.push(engine, xero, clock=clock)
    alpha = numbers["Alpha Dental"]
    [theirs] = fake.by_number(alpha)
    assert theirs.status == "DRAFT" and theirs.data["Contact"]["ContactID"] == by_psa
    with session_scope(engine) as db:
        invoices.void(db=db, ref=alpha, actor=ACTOR, clock=clock)
        ids = [i.id for i in invoices.list_invoices(db=db) if i.id is not None]
        assert xero_sync.counts(db, ids) == (2, 0)
    with client(engine, fake, clock) as xero:
        assert xero_sync.push(engine, xero, clock=clock).voided == [alpha]
    assert theirs.status == "DELETED"
    assert xero_sync.status_line(docs(engine)[alpha]) == "voided in Xero"


def test_the_month_close_report_counts_pushed_and_not_pushed(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    from core.month_close import build_report
    from handlers.close_views import report_message
    from tests.harness.slack_views import texts

    numbers = billed_month(engine, NAMES[:3])
    assert build_report(engine, "2026-12", clock=clock).xero is None  # Xero never connected: no line
    map_codes(engine)
    with client(engine, fake, clock) as xero:
        xero_sync.push(engine, xero, clock=clock, refs=[numbers["Alpha Dental"], numbers["Bravo Legal"]])
    report = build_report(engine, "2026-12", clock=clock)
    assert report.xero == (2, 1) and report.as_dict()["xero"] == {"pushed": 2, "not_pushed": 1}
    assert "Xero: 2 pushed · 1 not pushed yet" in texts(report_message(report)[1])
