"""Invoices in Slack: bill run preview and run, the invoice view and its buttons, lists."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import session_scope
from models.invoices import Invoice
from tests import factories
from tests.harness.fake_slack import FakeSlack
from tests.harness.invoice_book import billrun_preview, invoices, run_billrun
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import texts


def test_billrun_preview_run_and_rerun(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, book: dict[str, int]
) -> None:
    preview = billrun_preview(slack, fake_slack)
    shown = texts(preview["blocks"])
    # Acme: 100.00 + 199.00 router = 299.00 + GST 29.90 = 328.90; Bravo: 250.50 + 25.05 = 275.55.
    assert "2 customers would be invoiced, $604.45 in all" in shown
    assert shown.index("Acme Plumbing: $328.90") < shown.index("Bravo Dental: $275.55")
    summary = run_billrun(slack, fake_slack)
    assert "2 invoices created (INV-00001–INV-00002), $604.45 in all" in summary["text"]
    assert [(i.number, i.total, i.due_date.isoformat()) for i in invoices(engine)] == [
        ("INV-00001", Decimal("328.90"), "2026-12-31"),
        ("INV-00002", Decimal("275.55"), "2026-12-15"),
    ]
    assert "nothing new to invoice (2 already invoiced)" in texts(
        billrun_preview(slack, fake_slack)["blocks"]
    )
    assert "is not a month" in slack.command("billrun december").json()["text"]
    slack.event({"type": "app_home_opened", "user": "U0ADMIN", "tab": "home"})
    home = texts(fake_slack.wait_for("views.publish")[-1].params["view"]["blocks"])
    assert "*Invoices*\n2 draft · 0 approved, not yet sent · 0 unpaid ($0.00)" in home


def test_invoice_view_buttons(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, book: dict[str, int]
) -> None:
    run_billrun(slack, fake_slack)
    slack.block_action("customer_open", value=str(book["Acme Plumbing"]))
    customer_view = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0CUSTOMER"}
    assert "*INV-00001* · 2026-12 · $328.90 · due 31 Dec 2026 · _draft_" in texts(customer_view["blocks"])
    assert "_Invoiced on INV-00001_" in texts(customer_view["blocks"])

    slack.block_action("invoice_open", value=str(invoices(engine)[0].id), view=customer_view)
    view = fake_slack.wait_for("views.push")[-1].params["view"] | {"id": "V0INVOICE"}
    shown = texts(view["blocks"])
    assert "Router" in shown and "Subtotal $299.00\nGST (10%) $29.90\n*Total $328.90 AUD*" in shown
    ids = [e["action_id"] for e in view["blocks"][-1]["elements"]]
    assert ids == [
        "invoice_pdf",
        "invoice_approve",
        "invoice_regenerate",
        "invoice_send",
        "invoice_void",
        "invoice_reissue",
    ]

    invoice_id = str(invoices(engine)[0].id)
    slack.block_action("invoice_approve", value=invoice_id, view=view)
    assert "*Status:* approved" in texts(fake_slack.calls_to("views.update")[-1].params["view"]["blocks"])

    slack.block_action("invoice_pdf", value=invoice_id, view=view)
    complete = fake_slack.wait_for("files.completeUploadExternal")[-1].params
    assert complete["channel_id"].startswith("D")
    [upload] = fake_slack.calls_to("upload")
    assert fake_slack.uploads[upload.params["file_id"]].startswith(b"%PDF")

    slack.block_action("invoice_paid", value=invoice_id, view=view)
    assert invoices(engine)[0].status == "paid"
    slack.block_action("invoice_void", value=invoice_id, view=view)  # refused: told by DM, nothing changed
    refusal = fake_slack.wait_for("chat.postMessage")[-1].params
    assert refusal["channel"] == "U0ADMIN" and "INV-00001 is paid; it can't be voided." in refusal["text"]
    assert invoices(engine)[0].status == "paid"


def test_void_and_reissue_and_list(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, book: dict[str, int]
) -> None:
    run_billrun(slack, fake_slack)
    second = invoices(engine)[1]
    view = {"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"}
    slack.block_action("invoice_reissue", value=str(second.id), view=view)
    numbers = [(i.number, i.status) for i in invoices(engine)]
    assert numbers == [("INV-00001", "draft"), ("INV-00002", "void"), ("INV-00003", "draft")]
    assert "INV-00003" in texts(fake_slack.calls_to("views.update")[-1].params["view"]["blocks"])

    listed = slack.command("invoices void").json()
    assert "*void invoices* (1)" in texts(listed["blocks"]) and "INV-00002" in texts(listed["blocks"])
    everything = texts(slack.command("invoices").json()["blocks"])
    assert everything.index("INV-00003") < everything.index("INV-00001")
    assert "Unknown status" in slack.command("invoices bogus").json()["text"]


def test_credit_a_sent_invoice_from_slack(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, book: dict[str, int]
) -> None:
    run_billrun(slack, fake_slack)
    acme = invoices(engine)[0]
    with session_scope(engine) as db:
        db.execute(update(Invoice).where(col(Invoice.id) == acme.id).values(status="sent"))
    slack.block_action("invoice_open", value=str(acme.id))
    view = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0INVOICE"}
    ids = [e["action_id"] for e in view["blocks"][-1]["elements"]]
    assert "invoice_credit" in ids and "invoice_void" not in ids  # sent: credited, never voided
    slack.block_action("invoice_credit", value=str(acme.id), view=view)
    form = fake_slack.wait_for("views.push")[-1].params["view"]
    assert form["callback_id"] == "invoice_credit_form"
    options = form["blocks"][1]["element"]["options"]
    assert [o["value"] for o in options] == ["1", "2"] and "Router" in options[1]["text"]["text"]
    chosen = {"lines": {"input": {"type": "multi_static_select", "selected_options": [options[1]]}}}
    reason = {"reason": {"input": {"type": "plain_text_input", "value": "Router returned"}}}
    answer = slack.view_submission(form, chosen | reason).json()
    # The Router line negated: -199.00, GST -19.90, total -218.90; shown in place of the form.
    assert answer["response_action"] == "update" and "CN-00001" in texts(answer["view"]["blocks"])
    note = invoices(engine)[-1]
    assert (note.number, note.doc_type, note.total, note.reason) == (
        "CN-00001",
        "credit_note",
        Decimal("-218.90"),
        "Router returned",
    )
    again = slack.view_submission(form, chosen | reason).json()
    assert again == {
        "response_action": "errors",
        "errors": {"lines": "Line(s) 2 of INV-00001 already have a credit note."},
    }


def test_billrun_lists_held_catch_up_and_bills_it_when_asked(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    from core.billrun import run_bill
    from core.calculation import Period
    from tests.harness.clock import FixedClock
    from tests.harness.ledger_book import charge

    factories.configure(engine, terms=30)
    first = factories.customer(engine, "First Co")
    charge(engine, first.id, "Backup", "50", "2026-01-01", end_date="2026-01-31")
    run_bill(engine=engine, period=Period(2026, 1), actor="U0ADMIN", clock=FixedClock())  # the ledger starts
    late = factories.customer(engine, "Late Co")
    charge(engine, late.id, "NBN 100", "100", "2026-07-15")
    preview = billrun_preview(slack, fake_slack)
    shown = texts(preview["blocks"])
    # 15-31 Jul (54.84) and August (100.00) are older than the 3-month horizon: listed, not billed.
    assert "*Needs a decision:* 2 unbilled piece(s) older than the back-billing horizon, $154.84" in shown
    buttons = preview["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["billrun_run", "billrun_run_old"]
    slack.block_action(buttons[1]["action_id"], value=buttons[1]["value"])
    summary = fake_slack.calls_to("response_url")[-1].params["text"]
    assert "held for a decision" not in summary
    with Session(engine) as db:
        invoice = db.exec(select(Invoice).where(Invoice.customer_id == late.id)).one()
    # Jul 54.84 + Aug..Nov 4 x 100 + Dec 100 = 554.84, GST 55.48 (per line: 5.48 + 5 x 10.00).
    assert invoice.subtotal == Decimal("554.84") and invoice.total == Decimal("610.32")
