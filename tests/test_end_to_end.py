"""The whole loop through real parts: scheduled month close → report in Slack → approve / hold /
Send from the thread or Send all → e-mail received over SMTP → "sent" in the customer view; the
exception cards' fix buttons; the four-eyes rule; and the missing-e-mail digest → Add e-mail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.jobs import find
from bot.scheduler import job_context
from core import billing_settings
from core.db import session_scope
from integrations.config import PsaSettings
from models.customers import EndCustomer
from tests import factories
from tests.conftest import SIGNING_SECRET, make_settings
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, text_value
from tests.harness.slack_views import texts
from tests.harness.smtp import SmtpServer

DEC_1_0200 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 1 Dec 02:00 in Sydney
NO_PSA = PsaSettings(_env_file=None, rebill_psa=None)  # type: ignore[call-arg]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def world(fake_slack: FakeSlack, db_url: str, engine: Engine, smtp: SmtpServer) -> Iterator[dict[str, Any]]:
    settings = make_settings(
        fake_slack,
        db_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        rebill_from_email="billing@acme-msp.example",
        smtp_timeout=5,
        rebill_admins="U0ADMIN,U0CHECKER",
    )
    clock = FixedClock(DEC_1_0200)
    factories.configure(engine)
    with session_scope(engine) as db:
        billing_settings.load(db).alert_channel_id = "C0ALERTS"
    people = {}
    for name, email in (("Harbour Dental", "ap@harbour.example"), ("No Mail Motors", None)):
        customer = factories.customer(engine, name, email=email)
        people[name] = customer.id
        factories.monthly_charge(
            engine, customer.id, "Managed IT", unit_price="500", effective_from="2026-11-01"
        )
    server = AppServer(settings, engine, clock).start()
    slack = SlackSender(
        server.url + "/slack/events",
        SIGNING_SECRET,
        response_url=fake_slack.response_url,
        after_request=server.executor.wait_idle,
    )
    yield {
        "settings": settings,
        "clock": clock,
        "slack": slack,
        "people": people,
        "ctx": job_context(settings, engine, clock, NO_PSA),
    }
    server.stop()


def report_buttons(blocks: list[dict[str, Any]], invoice_number: str) -> dict[str, str]:
    """{action_id: value} of the card (or thread entry) for `invoice_number`."""
    for i, block in enumerate(blocks):
        if block["type"] == "section" and f"*{invoice_number}*" in block["text"]["text"]:
            return {e["action_id"]: e["value"] for e in blocks[i + 1]["elements"]}
    raise AssertionError(f"no card for {invoice_number}")


def test_month_close_report_approve_send_from_thread_email_received_and_shown_sent(
    world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer, engine: Engine
) -> None:
    slack: SlackSender = world["slack"]
    summary = find("monthly_billrun").run(world["ctx"], DEC_1_0200)  # type: ignore[union-attr]
    assert summary.endswith("report posted: 2 thread entries posted")
    report = fake_slack.calls_to("chat.postMessage")[0].params
    assert report["channel"] == "C0ALERTS" and report["text"] == "Month close 2026-12: 2 invoices, $1,100.00"
    shown = texts(report["blocks"])
    assert ":email: not sent: no e-mail *1* · :hourglass: awaiting approval *1*" in shown
    assert "Run by the scheduler" in shown
    # The exception comes first, with its fix at hand: no e-mail → Add e-mail, Approve, Hold.
    card = report_buttons(report["blocks"], "INV-00002")
    assert list(card) == ["customer_add_email", "invoice_open", "close_approve", "close_hold"]
    assert "no e-mail address" in shown and "*INV-00001*" not in shown  # no exception: not a card
    assert report["blocks"][-1]["elements"][0]["action_id"] == "digest_review"  # nothing approved to send

    value, thread = thread_button(fake_slack, "close_approve", "INV-00001")
    slack.block_action(
        "close_approve", value=value, channel_id="C0ALERTS", message_ts=thread, thread_ts=thread
    )
    updated, entry = (c.params for c in fake_slack.wait_for("chat.update", count=2)[-2:])
    assert updated["ts"] == thread and "Approved by <@U0ADMIN>" in texts(updated["blocks"])
    assert [e["text"]["text"] for e in updated["blocks"][-1]["elements"]] == [
        "Send all approved (1)",
        "Review",
    ]
    # The thread entry is redrawn too: approved, so it now offers Send.
    first_entry = thread_button(fake_slack, "close_approve", "INV-00001")
    assert entry["ts"] != thread and report_buttons(entry["blocks"], "INV-00001") == {
        "digest_send_one": value,
        "close_hold": value,
        "digest_pdf_one": value,
    }
    assert first_entry[1] == thread

    # Send from the thread.
    slack.block_action(
        "digest_send_one",
        value=value,
        channel_id="C0ALERTS",
        message_ts="1700000000.000099",
        thread_ts=thread,
    )
    [mail] = smtp.received
    assert mail.envelope_to == ["ap@harbour.example"] and "INV-00001" in mail.message["Subject"]
    [pdf] = list(mail.message.iter_attachments())
    assert pdf.get_filename() == "INV-00001.pdf"
    assert "$550.00" in pdf_text(pdf.get_content())
    posted = fake_slack.calls_to("chat.postMessage")[-1].params
    assert posted["thread_ts"] == thread and posted["text"].startswith(":white_check_mark:")

    # A second click on the same Send e-mails nobody again.
    slack.block_action(
        "digest_send_one",
        value=value,
        channel_id="C0ALERTS",
        message_ts="1700000000.000099",
        thread_ts=thread,
    )
    assert len(smtp.received) == 1

    # The Add e-mail fix on the card works, and the customer view shows INV-00001 sent.
    slack.block_action(
        "customer_add_email", value=card["customer_add_email"], channel_id="C0ALERTS", message_ts=thread
    )
    form = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0EMAIL"}
    slack.view_submission(form, {"email": {"value": text_value("accounts@nomail.example")}})
    with Session(engine) as db:
        assert db.get(EndCustomer, world["people"]["No Mail Motors"]).email == "accounts@nomail.example"
    slack.block_action("customer_open", value=str(world["people"]["Harbour Dental"]))
    view = fake_slack.wait_for("views.open")[-1].params["view"]
    assert "*INV-00001* · 2026-12 · $550.00 · due 31 Dec 2026 · _sent_" in texts(view["blocks"])


def last_update(fake: FakeSlack, ts: str) -> dict[str, Any]:
    """The latest chat.update of the message `ts` (the report; its thread messages are redrawn too)."""
    return [c.params for c in fake.calls_to("chat.update") if c.params["ts"] == ts][-1]


def thread_button(fake: FakeSlack, action_id: str, invoice_number: str) -> tuple[str, str]:
    """The value of `action_id` next to `invoice_number` in the report's thread, and the thread ts."""
    for call in fake.calls_to("chat.postMessage"):
        if not call.params.get("thread_ts"):
            continue
        blocks = call.params.get("blocks") or []
        for i, block in enumerate(blocks):
            if block["type"] == "section" and invoice_number in block["text"]["text"]:
                for element in blocks[i + 1]["elements"]:
                    if element["action_id"] == action_id:
                        return element["value"], call.params["thread_ts"]
    raise AssertionError(f"no {action_id} for {invoice_number}")


def test_missing_email_digest_add_email_fixes_the_customer(
    world: dict[str, Any], fake_slack: FakeSlack, engine: Engine
) -> None:
    slack: SlackSender = world["slack"]
    nine_thirty = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # 1 Dec 09:30 in Sydney
    assert find("missing_email_digest").run(world["ctx"], nine_thirty).startswith("posted: 1")  # type: ignore[union-attr]
    digest = fake_slack.calls_to("chat.postMessage")[-1].params
    button = digest["blocks"][1]["accessory"]
    assert "No Mail Motors" in texts(digest["blocks"]) and button["action_id"] == "customer_add_email"
    slack.block_action(
        "customer_add_email", value=button["value"], channel_id="C0ALERTS", message_ts="1700000000.000123"
    )
    form = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0EMAIL"}
    slack.view_submission(form, {"email": {"value": text_value("accounts@nomail.example")}})
    with Session(engine) as db:
        assert db.get(EndCustomer, world["people"]["No Mail Motors"]).email == "accounts@nomail.example"
    tomorrow = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert find("missing_email_digest").run(world["ctx"], tomorrow).startswith("nobody is missing")  # type: ignore[union-attr]


def pdf_text(data: bytes) -> str:
    return PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_send_all_sends_approved_only_says_how_many_held_and_four_eyes_refuses_the_runner(
    world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer, engine: Engine
) -> None:
    slack: SlackSender = world["slack"]
    with session_scope(engine) as db:
        billing_settings.load(db).four_eyes = True
    third = factories.customer(engine, "Ocean Vets", email="ap@ocean.example")
    factories.monthly_charge(engine, third.id, "Backup", unit_price="100", effective_from="2026-11-01")
    # U0ADMIN runs the close from Slack: /rebill billrun → preview → Run.
    slack.command("billrun 2026-12")
    preview = fake_slack.calls_to("response_url")[-1].params
    run = preview["blocks"][1]["elements"][0]
    slack.block_action(run["action_id"], value=run["value"])
    assert "Month close 2026-12: 3 invoices" in fake_slack.calls_to("response_url")[-1].params["text"]
    report = next(c.params for c in fake_slack.calls_to("chat.postMessage") if not c.params.get("thread_ts"))
    assert "Run by <@U0ADMIN>" in texts(report["blocks"])
    harbour, thread = thread_button(fake_slack, "close_approve", "INV-00001")
    ocean, _ = thread_button(fake_slack, "close_approve", "INV-00003")

    # Four eyes: the runner can't approve; another admin can.
    slack.block_action(
        "close_approve", value=harbour, user_id="U0ADMIN", channel_id="C0ALERTS", message_ts=thread
    )
    refusal = fake_slack.calls_to("response_url")[-1].params
    assert "Four-eyes rule: you ran the 2026-12 bill run" in refusal["text"]
    for value in (harbour, ocean):
        slack.block_action(
            "close_approve", value=value, user_id="U0CHECKER", channel_id="C0ALERTS", message_ts=thread
        )
    slack.block_action(
        "close_hold", value=ocean, user_id="U0CHECKER", channel_id="C0ALERTS", message_ts=thread
    )

    updated = last_update(fake_slack, thread)
    send_all = updated["blocks"][-2]["elements"][0]
    assert (
        send_all["text"]["text"] == "Send all approved (1)"
        and "1 held stay unsent" in send_all["confirm"]["text"]["text"]
    )
    slack.block_action(
        "close_send_all", value="2026-12", user_id="U0CHECKER", channel_id="C0ALERTS", message_ts=thread
    )
    assert [m.envelope_to for m in smtp.received] == [
        ["ap@harbour.example"]
    ]  # approved only; held and no-mail stay
    said = fake_slack.calls_to("chat.postMessage")[-1].params
    assert (
        said["thread_ts"] == thread and "sent all approved: 1 e-mailed, 0 not sent, 1 held." in said["text"]
    )
    final = texts(last_update(fake_slack, thread)["blocks"])
    assert ":white_check_mark: sent *1*" in final and ":double_vertical_bar: held *1*" in final
    assert "Approved by <@U0CHECKER> · sent by <@U0CHECKER>" in final
    # Clicking again sends nothing more.
    slack.block_action(
        "close_send_all", value="2026-12", user_id="U0CHECKER", channel_id="C0ALERTS", message_ts=thread
    )
    assert len(smtp.received) == 1


def test_auto_send_reports_from_stored_states(
    world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer, engine: Engine
) -> None:
    with session_scope(engine) as db:
        row = billing_settings.load(db)
        row.auto_approve = row.auto_send = True
    summary = find("monthly_billrun").run(world["ctx"], DEC_1_0200)  # type: ignore[union-attr]
    assert "1 e-mailed, 0 not" in summary
    assert [m.envelope_to for m in smtp.received] == [["ap@harbour.example"]]
    report = texts(fake_slack.calls_to("chat.postMessage")[0].params["blocks"])
    # No Mail Motors has an exception, so auto-approve's approval is held for a person.
    assert ":white_check_mark: sent *1*" in report and ":double_vertical_bar: held *1*" in report
    assert "No Mail Motors" in report and "Approved by the scheduler · sent by auto-send" in report


def test_delivery_uncertain_card_it_was_sent_and_send_again_through_the_endpoint(
    world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer, engine: Engine
) -> None:
    from sqlalchemy import update

    from models.invoices import Invoice
    from tests.harness.delivery import dead_worker

    slack: SlackSender = world["slack"]
    with session_scope(engine) as db:
        billing_settings.load(db).auto_approve = True
    find("monthly_billrun").run(world["ctx"], DEC_1_0200)  # type: ignore[union-attr]
    with session_scope(engine) as db:  # a sender died mid-send on both invoices
        db.execute(
            update(Invoice).values(
                send_claimed_at=DEC_1_0200, send_claim_token="dead", send_claimed_by=dead_worker()
            )
        )
    slack.block_action("invoice_open", value="1")
    view = fake_slack.wait_for("views.open")[-1].params["view"]
    assert "Delivery uncertain: check your mail server's log" in texts(view["blocks"])
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {"close_send_again", "close_was_sent"} <= {e["action_id"] for e in buttons}

    _, thread = thread_button(fake_slack, "digest_pdf_one", "INV-00001")
    slack.block_action("close_was_sent", value="1", channel_id="C0ALERTS", message_ts=thread)
    report = texts(last_update(fake_slack, thread)["blocks"])
    assert ":white_check_mark: sent *1*" in report and ":grey_question: delivery uncertain *1*" in report
    assert "delivery uncertain: check your mail server's log" in report and "*INV-00002*" in report
    assert smtp.received == []  # "It was sent" sends nothing

    with session_scope(engine) as db:  # No Mail Motors got an address meanwhile
        db.execute(
            update(EndCustomer)
            .where(EndCustomer.id == world["people"]["No Mail Motors"])
            .values(email="a@nm.example")
        )
    slack.block_action("close_send_again", value="2", channel_id="C0ALERTS", message_ts=thread)
    assert [m.envelope_to for m in smtp.received] == [["a@nm.example"]]
    said = fake_slack.calls_to("chat.postMessage")[-1].params
    assert said["thread_ts"] == thread and "INV-00002 sent to a@nm.example" in said["text"]
    final = texts(last_update(fake_slack, thread)["blocks"])
    assert ":white_check_mark: sent *2*" in final and "uncertain" not in final
