"""Payment reminders on the provider's schedule (4 days before, 1, 7 and 14 after the due date) and
overdue selection, over a real database and a real local SMTP server: each reminder goes once."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import customers, invoices, notifications, reminders
from core.db import session_scope
from core.delivery import Outcome, SendResult
from models.customers import EndCustomer
from models.system import Notification
from tests.harness.billbook import ACTOR
from tests.harness.clock import BUSINESS_ZONE, FixedClock
from tests.harness.delivery import bill, light_templates, send, smtp_config
from tests.harness.smtp import SmtpServer

DUE = date(2026, 12, 15)  # December invoices: issued 1 Dec, 14 days' terms


def at(day: date) -> datetime:
    """Noon in Sydney on `day`."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def days(offset: int) -> date:
    return DUE + timedelta(days=offset)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("offset", "step"),
    [
        (-5, None),
        (-4, "before-4"),
        (-3, "before-4"),  # a missed day is made up...
        (-2, "before-4"),
        (-1, None),  # ...for CATCH_UP_DAYS, then it's too late to say "due in 4 days"
        (0, None),
        (1, "after-1"),
        (3, "after-1"),
        (4, None),
        (6, None),
        (7, "after-7"),
        (9, "after-7"),
        (13, None),
        (14, "after-14"),
        (16, "after-14"),
        (17, None),
        (60, None),
    ],
)
def test_step_for_the_schedule(offset: int, step: str | None) -> None:
    assert reminders.step_for(DUE, days(offset)) == step


def reminder(
    engine: Engine, smtp: SmtpServer, invoice_id: int, step: str, clock: FixedClock, **kw: Any
) -> SendResult:
    return reminders.send_reminder(
        engine=engine,
        smtp=smtp_config(smtp.port),
        invoice_id=invoice_id,
        step=step,
        clock=clock,
        claimed_by=kw.pop("claimed_by", "test"),
        templates_dir=light_templates(),
        **kw,
    )


def test_which_invoices_get_which_reminder_when(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    names = ["Sent", "Late", "Approved", "Paid", "Void", "Lost Mail", "Archived"]
    numbers = bill(engine, *[(name, f"ap@{name.lower().replace(' ', '')}.example") for name in names])
    clock.set(at(date(2026, 12, 1)))
    for name in ("Sent", "Paid", "Lost Mail", "Archived"):  # "Void" is voided unsent: a sent one can't be
        assert send(engine, smtp.port, numbers[name], clock).outcome == Outcome.SENT
    clock.set(at(days(-2)))  # after the before-4 day: "Late" gets no "due in 4 days"
    assert send(engine, smtp.port, numbers["Late"], clock).outcome == Outcome.SENT
    with session_scope(engine) as db:
        invoices.approve(db=db, ref=numbers["Approved"], actor=ACTOR, clock=clock)
        invoices.mark_paid(db=db, ref=numbers["Paid"], actor=ACTOR, clock=clock)
        invoices.void(db=db, ref=numbers["Void"], actor=ACTOR, clock=clock)
        db.execute(update(EndCustomer).where(EndCustomer.company_name == "Lost Mail").values(email=None))
        archived = db.execute(
            select(EndCustomer.id).where(EndCustomer.company_name == "Archived")
        ).scalar_one()
        customers.archive(db, archived, actor=ACTOR, clock=clock)

    def due_on(offset: int) -> list[tuple[str, str]]:
        with Session(engine) as db:
            return [
                (inv.number, step)
                for inv, step in reminders.reminders_due(db, today=days(offset), zone=BUSINESS_ZONE)
            ]

    sent, late = numbers["Sent"], numbers["Late"]
    assert {offset: due_on(offset) for offset in (-5, -4, -2, -1, 0, 1, 3, 4, 7, 14, 16, 17)} == {
        -5: [],
        -4: [(sent, "before-4")],
        -2: [(sent, "before-4")],  # "Late" was e-mailed that day
        -1: [],
        0: [],
        1: [(sent, "after-1"), (late, "after-1")],
        3: [(sent, "after-1"), (late, "after-1")],
        4: [],
        7: [(sent, "after-7"), (late, "after-7")],
        14: [(sent, "after-14"), (late, "after-14")],
        16: [(sent, "after-14"), (late, "after-14")],
        17: [],
    }
    # Once claimed, a step is no longer due: a second run the same day (or the next) selects nothing.
    notifications.claim(
        engine, kind=reminders.KIND, subject=sent, occasion="after-1", claimed_by="t", clock=clock
    )
    assert due_on(1) == due_on(2) == [(late, "after-1")]


def test_each_reminder_goes_once_even_with_concurrent_senders(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    numbers = bill(engine, ("Alpha Dental", "ap@alpha.example"), instructions="BSB 062-000 Acc 1234")
    clock.set(at(date(2026, 12, 1)))
    send(engine, smtp.port, numbers["Alpha Dental"], clock)
    smtp.received.clear()
    invoice_id = invoices_id(engine, numbers["Alpha Dental"])
    clock.set(at(days(-4)))
    start = threading.Barrier(4)
    results: list[SendResult] = []

    def run(worker: int) -> None:
        start.wait()
        results.append(reminder(engine, smtp, invoice_id, "before-4", clock, claimed_by=f"replica-{worker}"))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.outcome for r in results) == [Outcome.ALREADY_SENT] * 3 + [Outcome.SENT]
    assert reminder(engine, smtp, invoice_id, "before-4", clock).outcome == Outcome.ALREADY_SENT

    [got] = smtp.received
    assert got.envelope_to == ["ap@alpha.example"]
    assert str(got.message["Subject"]).strip() == "Reminder: invoice INV-00001 is due in 4 days"
    text = got.message.get_body(("plain",)).get_content()
    html = got.message.get_body(("html",)).get_content()
    assert "invoice INV-00001 is due in 4 days" in text
    assert "Amount due: $220.00" in text and "Due date: 15 Dec 2026" in text and "BSB 062-000" in text
    assert "<strong>INV-00001</strong> is due in 4 days" in html
    [pdf] = list(got.message.iter_attachments())
    assert pdf.get_filename() == "INV-00001.pdf"
    assert "INV-00001" in PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text()
    with Session(engine) as db:
        [row] = db.execute(select(Notification).where(Notification.kind == reminders.KIND)).scalars()
        assert (row.subject, row.occasion, row.done_at) == ("INV-00001", "before-4", clock.now())


def test_a_failed_reminder_is_released_and_retried(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    numbers = bill(engine, ("Alpha Dental", "ap@alpha.example"))
    clock.set(at(date(2026, 12, 1)))
    send(engine, smtp.port, numbers["Alpha Dental"], clock)
    smtp.received.clear()
    invoice_id = invoices_id(engine, numbers["Alpha Dental"])
    clock.set(at(days(8)))  # the after-7 reminder, a day late

    smtp.sink.refuse_data = "451 4.3.0 Try again later"
    failed = reminder(engine, smtp, invoice_id, "after-7", clock)
    assert (failed.outcome, failed.temporary) == (Outcome.FAILED, True) and "451" in failed.message
    assert (
        notifications.claimed_at(engine, kind=reminders.KIND, subject="INV-00001", occasion="after-7") is None
    )

    smtp.sink.refuse_data = None
    assert reminder(engine, smtp, invoice_id, "after-7", clock).outcome == Outcome.SENT
    [got] = smtp.received
    assert str(got.message["Subject"]).strip() == "Overdue: invoice INV-00001 was due 8 days ago"
    assert "is <strong>8 days overdue</strong>" in got.message.get_body(("html",)).get_content()

    with session_scope(engine) as db:  # paid meanwhile: the next step no longer applies
        invoices.mark_paid(db=db, ref="INV-00001", actor=ACTOR, clock=clock)
    skipped = reminder(engine, smtp, invoice_id, "after-14", clock)
    assert skipped.outcome == Outcome.SKIPPED and len(smtp.received) == 1


def test_send_reminders_runs_the_day_once(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    numbers = bill(engine, ("Alpha", "ap@alpha.example"), ("Bravo", "ap@bravo.example"))
    clock.set(at(date(2026, 12, 1)))
    for number in numbers.values():
        send(engine, smtp.port, number, clock)
    smtp.received.clear()
    clock.set(at(days(1)))

    def run() -> list[SendResult]:
        return reminders.send_reminders(
            engine=engine,
            smtp=smtp_config(smtp.port),
            clock=clock,
            claimed_by="scheduler",
            templates_dir=light_templates(),
        )

    first = run()
    assert [(r.number, r.step, r.outcome) for r in first] == [
        ("INV-00001", "after-1", Outcome.SENT),
        ("INV-00002", "after-1", Outcome.SENT),
    ]
    assert run() == [] and len(smtp.received) == 2


def test_overdue_and_newly_overdue(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    numbers = bill(
        engine, *[(name, f"ap@{name.lower()}.example") for name in ("Sent", "Approved", "Draft", "Paid")]
    )
    send(engine, smtp.port, numbers["Sent"], clock)
    with session_scope(engine) as db:
        for name in ("Approved", "Paid"):
            invoices.approve(db=db, ref=numbers[name], actor=ACTOR, clock=clock)
        invoices.mark_paid(db=db, ref=numbers["Paid"], actor=ACTOR, clock=clock)
    owed = sorted([numbers["Sent"], numbers["Approved"]])
    with Session(engine) as db:
        assert reminders.overdue_invoices(db, today=DUE) == []  # due today is not overdue
        assert sorted(i.number for i in reminders.overdue_invoices(db, today=days(1))) == owed
        assert sorted(i.number for i in reminders.overdue_invoices(db, today=days(40))) == owed
        assert sorted(i.number for i in reminders.newly_overdue(db, today=days(1))) == owed
        assert sorted(i.number for i in reminders.newly_overdue(db, today=days(7))) == owed
        assert reminders.newly_overdue(db, today=days(8)) == []
        sent = invoices.find(db=db, ref=numbers["Sent"])
    key = reminders.overdue_alert_key(sent)
    assert key == {"kind": "invoice_overdue", "subject": numbers["Sent"], "occasion": "2026-12-15"}
    assert notifications.claim(engine, **key, claimed_by="a", clock=clock) is not None
    assert notifications.claim(engine, **key, claimed_by="b", clock=clock) is None


def invoices_id(engine: Engine, number: str) -> int:
    with Session(engine) as db:
        invoice_id = invoices.find(db=db, ref=number).id
    assert invoice_id is not None
    return invoice_id
