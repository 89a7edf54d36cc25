"""Invoice e-mail to a real local SMTP server (aiosmtpd), on SQLite and PostgreSQL: the right
message, once, even with double clicks and concurrent senders; failures leave it retryable."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import invoices
from core.db import session_scope
from core.delivery import NoEmail, Outcome, SendResult, mark_sent, send_many
from core.errors import NotAllowed, NotFound
from models.customers import EndCustomer
from models.invoices import Invoice
from models.system import BillingSettings
from tests.harness.billbook import ACTOR
from tests.harness.clock import FixedClock
from tests.harness.delivery import (
    SEND_DAY,
    SENDER,
    actions,
    bill,
    dead_worker,
    light_templates,
    send,
    smtp_config,
)
from tests.harness.smtp import SmtpServer, free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def load(engine: Engine, number: str) -> Invoice:
    with Session(engine) as db:
        return invoices.find(db=db, ref=number)


def test_sends_html_text_and_the_pdf_and_records_it(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    numbers = bill(engine, ("Alpha Dental", "ap@alpha.example"), instructions="BSB 062-000 Acc 1234")
    clock.set(SEND_DAY)
    result = send(
        engine,
        smtp.port,
        numbers["Alpha Dental"],
        clock,
        smtp={"bcc": "archive@msp.example"},
        templates_dir=None,
    )

    assert (result.outcome, result.ok, result.sent_to) == (Outcome.SENT, True, "ap@alpha.example")
    assert result.message == "INV-00001 sent to ap@alpha.example (approved first: it was a draft)."
    [got] = smtp.received
    message = got.message
    assert got.envelope_from == SENDER
    assert got.envelope_to == ["ap@alpha.example", "archive@msp.example"] and "Bcc" not in message
    assert message["To"] == "ap@alpha.example"
    assert message["From"] == f"Acme MSP Pty Ltd <{SENDER}>"
    assert message["Reply-To"] == "accounts@msp.example"
    assert message["Subject"] == "Invoice INV-00001 from Acme MSP Pty Ltd"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "invoice INV-00001" in text and "Amount due: $220.00" in text and "BSB 062-000" in text
    assert "<strong>INV-00001</strong>" in html and "$220.00" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "INV-00001.pdf" and attachment.get_content_type() == "application/pdf"
    pdf_text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert "INV-00001" in pdf_text and "Alpha Dental" in pdf_text

    invoice = load(engine, "INV-00001")
    assert (invoice.status, invoice.sent_at, invoice.sent_to) == ("sent", SEND_DAY, "ap@alpha.example")
    assert invoice.message_id == message["Message-ID"] == result.message_id
    assert (invoice.send_claimed_at, invoice.send_claim_token, invoice.send_error) == (None, None, None)
    with Session(engine) as db:
        assert actions(db, invoice.id)[-2:] == ["approve", "send"]


def test_goes_to_the_customers_current_address(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    """The fix for a wrong or missing address is editing the customer; no regeneration needed."""
    numbers = bill(engine, ("Alpha Dental", "old@alpha.example"))
    with session_scope(engine) as db:
        db.execute(update(EndCustomer).values(email="new@alpha.example"))
    assert send(engine, smtp.port, numbers["Alpha Dental"], clock).sent_to == "new@alpha.example"
    assert [r.envelope_to for r in smtp.received] == [["new@alpha.example"]]
    assert load(engine, "INV-00001").sent_to == "new@alpha.example"


def test_a_double_click_sends_once_and_resend_sends_again(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    clock.set(SEND_DAY)
    assert send(engine, smtp.port, "INV-00001", clock).outcome == Outcome.SENT
    again = send(engine, smtp.port, "inv-00001", clock)
    assert (again.outcome, again.ok) == (Outcome.ALREADY_SENT, True)
    assert again.message == (
        "INV-00001 was already sent to ap@alpha.example on 2026-12-01; resend it to send it again."
    )
    assert len(smtp.received) == 1

    clock.advance(days=3)
    resent = send(engine, smtp.port, "INV-00001", clock, resend=True)
    assert (resent.outcome, resent.message) == (Outcome.SENT, "INV-00001 re-sent to ap@alpha.example.")
    assert len(smtp.received) == 2
    invoice = load(engine, "INV-00001")
    assert invoice.sent_at == datetime(2026, 12, 4, 1, 0, tzinfo=UTC) and invoice.status == "sent"
    with Session(engine) as db:
        assert actions(db, invoice.id)[-3:] == ["approve", "send", "resend"]


def test_concurrent_senders_send_once(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    """Four threads click "Send" at the same moment: one e-mail goes, the others are told why not."""
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    start = threading.Barrier(4)
    results: list[SendResult] = []

    def click() -> None:
        start.wait()
        results.append(send(engine, smtp.port, "INV-00001", clock))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    outcomes = [r.outcome for r in results]
    assert len(outcomes) == 4 and outcomes.count(Outcome.SENT) == 1
    assert set(outcomes) <= {Outcome.SENT, Outcome.IN_PROGRESS, Outcome.ALREADY_SENT}
    assert len(smtp.received) == 1
    with Session(engine) as db:
        assert actions(db, load(engine, "INV-00001").id).count("send") == 1


def test_a_crashed_senders_claim_is_delivery_uncertain_until_a_person_decides(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"), ("Beta Bakery", "ap@beta.example"))
    with session_scope(engine) as db:  # a process on this host claimed both (approving them), then died
        db.execute(
            update(Invoice).values(
                status="approved",
                send_claimed_at=clock.now(),
                send_claim_token="dead",
                send_claimed_by=dead_worker(),
            )
        )
    first = send(engine, smtp.port, "INV-00001", clock)
    assert first.outcome == Outcome.UNCERTAIN and not first.ok
    assert "delivery uncertain: check your mail server's log" in first.message
    clock.advance(days=3)  # however long: never sent again by itself
    assert send(engine, smtp.port, "INV-00001", clock).outcome == Outcome.UNCERTAIN
    assert smtp.received == []

    again = send(engine, smtp.port, "INV-00001", clock, takeover=True)  # "Send again"
    assert again.outcome == Outcome.SENT and len(smtp.received) == 1
    assert load(engine, "INV-00001").send_claimed_by is None

    marked = mark_sent(
        engine=engine, invoice_ref="INV-00002", actor="U0CHECKER", clock=clock
    )  # "It was sent"
    assert (marked.status, marked.sent_by, marked.sent_to) == ("sent", "U0CHECKER", "ap@beta.example")
    assert send(engine, smtp.port, "INV-00002", clock).outcome == Outcome.ALREADY_SENT
    assert len(smtp.received) == 1
    with Session(engine) as db:
        assert actions(db, marked.id)[-1] == "marked_sent"
    with pytest.raises(NotAllowed, match="recorded as sent already"):
        mark_sent(engine=engine, invoice_ref="INV-00002", actor="U0CHECKER", clock=clock)


def test_a_live_claim_elsewhere_is_in_progress_then_uncertain_when_too_old(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    with session_scope(engine) as db:  # another host is sending: it can't be checked from here
        db.execute(
            update(Invoice).values(
                send_claimed_at=clock.now(), send_claim_token="other", send_claimed_by="other-host:42"
            )
        )
    clock.advance(minutes=14)
    busy = send(engine, smtp.port, "INV-00001", clock)
    assert busy.outcome == Outcome.IN_PROGRESS and not busy.ok
    assert busy.message.startswith("INV-00001 is already being sent (started 2026-11-25 20:00)")
    assert smtp.received == [] and load(engine, "INV-00001").status == "draft"  # nothing changed
    clock.advance(minutes=2)
    assert send(engine, smtp.port, "INV-00001", clock).outcome == Outcome.UNCERTAIN
    assert smtp.received == []


@pytest.mark.parametrize(
    ("failure", "temporary", "says"),
    [
        ("down", True, "Can't reach the mail server"),
        ("451 4.3.0 Mailbox busy, try later", True, "451"),
        ("550 5.1.1 No such user", False, "550"),
    ],
)
def test_a_failed_send_leaves_it_unsent_and_a_retry_works(
    engine: Engine, smtp: SmtpServer, clock: FixedClock, failure: str, temporary: bool, says: str
) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    port = smtp.port
    if failure == "down":
        port = free_port()
    elif failure.startswith("451"):
        smtp.sink.refuse_data = failure
    else:
        smtp.sink.refuse_rcpt = failure
    result = send(engine, port, "INV-00001", clock)
    assert (result.outcome, result.ok, result.temporary) == (Outcome.FAILED, False, temporary)
    assert says in result.message and result.message.startswith("INV-00001 was not sent: ")
    assert result.message.endswith(
        "This is usually temporary: try again later." if temporary else "Fix the problem, then send it again."
    )
    invoice = load(engine, "INV-00001")
    assert (invoice.status, invoice.sent_at, invoice.send_claimed_at) == ("approved", None, None)
    assert invoice.send_error is not None and says in invoice.send_error
    assert smtp.received == []

    smtp.sink.refuse_data = smtp.sink.refuse_rcpt = None
    assert send(engine, smtp.port, "INV-00001", clock).outcome == Outcome.SENT
    invoice = load(engine, "INV-00001")
    assert (invoice.status, invoice.send_error, len(smtp.received)) == ("sent", None, 1)
    with Session(engine) as db:
        assert actions(db, invoice.id)[-3:] == ["approve", "send_failed", "send"]


def test_a_template_error_releases_the_claim(
    engine: Engine, smtp: SmtpServer, clock: FixedClock, tmp_path: Path
) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    (tmp_path / "invoice.html").write_text((light_templates() / "invoice.html").read_text())
    (tmp_path / "email.txt").write_text("Hello {{ customer.nmae }}\n")  # a typo in a user template
    with pytest.raises(Exception, match="nmae"):
        send(engine, smtp.port, "INV-00001", clock, templates_dir=tmp_path)
    invoice = load(engine, "INV-00001")
    assert (invoice.send_claimed_at, invoice.sent_at) == (None, None)
    assert invoice.send_error == "Could not prepare the e-mail (UndefinedError)."
    assert send(engine, smtp.port, "INV-00001", clock).outcome == Outcome.SENT


def test_what_cannot_be_sent_is_refused(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    numbers = bill(
        engine, ("No Mail Co", None), ("Voided Co", "ap@void.example"), ("Paid Co", "ap@paid.example")
    )
    with pytest.raises(NoEmail) as caught:
        send(engine, smtp.port, numbers["No Mail Co"], clock)
    assert caught.value.user_message == (
        "No Mail Co has no e-mail address, so INV-00001 can't be sent: add one to the customer first."
    )
    assert isinstance(caught.value, NotAllowed) and caught.value.invoice_number == "INV-00001"
    with Session(engine) as db:
        customer = db.get(EndCustomer, caught.value.customer_id)
        assert customer is not None and customer.company_name == "No Mail Co"
    assert load(engine, "INV-00001").status == "draft"  # not approved by a refused send

    with session_scope(engine) as db:
        invoices.void(db=db, ref=numbers["Voided Co"], actor=ACTOR, clock=clock)
        invoices.approve(db=db, ref=numbers["Paid Co"], actor=ACTOR, clock=clock)
        invoices.mark_paid(db=db, ref=numbers["Paid Co"], actor=ACTOR, clock=clock)
    with pytest.raises(NotAllowed, match=r"INV-00002 is void; it can't be sent\."):
        send(engine, smtp.port, "INV-00002", clock)
    with pytest.raises(NotAllowed, match="INV-00003 is paid already"):
        send(engine, smtp.port, "INV-00003", clock, resend=True)
    with pytest.raises(NotFound, match=r"There is no invoice INV-09999\."):
        send(engine, smtp.port, "INV-09999", clock)
    assert smtp.received == []


def test_cr_lf_in_names_cannot_inject_headers(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    """Names can reach the database unvalidated (a PSA sync, an old row): headers stay single lines."""
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    evil = "Evil\r\nBcc: victim@example.com\r\nX-Injected: yes"
    with session_scope(engine) as db:
        db.execute(update(Invoice).values(customer_name=evil))
        db.execute(update(EndCustomer).values(company_name=evil))
        db.execute(update(BillingSettings).values(business_name=f"Acme {evil}"))
    assert send(engine, smtp.port, "INV-00001", clock).outcome == Outcome.SENT
    [got] = smtp.received
    assert got.envelope_to == ["ap@alpha.example"]
    assert "Bcc" not in got.message and "X-Injected" not in got.message
    subject = str(got.message["Subject"]).strip()  # folded onto a continuation line: still one header
    assert subject == "Invoice INV-00001 from Acme Evil Bcc: victim@example.com X-Injected: yes"
    assert got.message["From"].addresses[0].addr_spec == SENDER


def test_send_many_keeps_going_past_failures(engine: Engine, smtp: SmtpServer, clock: FixedClock) -> None:
    numbers = bill(engine, ("Alpha", "ap@alpha.example"), ("Bravo", None), ("Charlie", "ap@charlie.example"))
    with session_scope(engine) as db:
        invoices.void(db=db, ref=numbers["Charlie"], actor=ACTOR, clock=clock)
    results = send_many(
        engine=engine,
        smtp=smtp_config(smtp.port),
        refs=[numbers["Alpha"], numbers["Bravo"], numbers["Charlie"], numbers["Alpha"]],
        actor=ACTOR,
        clock=clock,
        templates_dir=light_templates(),
    )
    assert [r.outcome for r in results] == [
        Outcome.SENT,
        Outcome.REFUSED,
        Outcome.REFUSED,
        Outcome.ALREADY_SENT,
    ]
    assert results[1].no_email and results[1].number == "INV-00002" and results[1].customer_id is not None
    assert not results[2].no_email and "void" in results[2].message
    assert [r.envelope_to for r in smtp.received] == [["ap@alpha.example"]]


def test_a_credit_note_is_e_mailed_like_an_invoice(
    engine: Engine, smtp: SmtpServer, clock: FixedClock
) -> None:
    from core import credit_notes

    numbers = bill(engine, ("Alpha Dental", "ap@alpha.example"))
    clock.set(SEND_DAY)
    assert send(engine, smtp.port, numbers["Alpha Dental"], clock).ok
    with session_scope(engine) as db:
        note = credit_notes.credit(db=db, ref=numbers["Alpha Dental"], actor=ACTOR, clock=clock).credit_note
    result = send(engine, smtp.port, note.number, clock)
    assert result.ok and result.sent_to == "ap@alpha.example"
    message = smtp.received[-1].message
    assert message["Subject"] == "Credit note CN-00001 from Acme MSP Pty Ltd"
    text = message.get_body(("plain",)).get_content()
    assert "adjustment note CN-00001" in text and "crediting invoice INV-00001" in text
    assert "Amount credited: $220.00" in text and "Amount due" not in text
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "CN-00001.pdf"
    assert load(engine, note.number).status == "sent"
