"""The whole loop through real parts: scheduled bill run → digest in Slack → Send from the thread →
e-mail received over SMTP → "sent" in the customer view; and the missing-e-mail digest → Add e-mail."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import session_scope
from bot.jobs import find
from bot.scheduler import job_context
from core import billing_settings, charges
from core.charge_validation import validate_recurring_charge
from integrations.config import PsaSettings
from models.customers import EndCustomer
from tests import factories
from tests.conftest import SIGNING_SECRET, make_settings
from tests.handlers.test_customers import texts
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, text_value
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
    )
    clock = FixedClock(DEC_1_0200)
    factories.configure(engine)
    with session_scope(engine) as db:
        billing_settings.load(db).alert_channel_id = "C0ALERTS"
    people = {}
    for name, email in (("Harbour Dental", "ap@harbour.example"), ("No Mail Motors", None)):
        customer = factories.customer(engine, name, email=email)
        people[name] = customer.id
        with session_scope(engine) as db:
            charges.add_recurring_charge(
                db=db,
                actor="U0ADMIN",
                customer_id=customer.id,
                data=validate_recurring_charge(
                    description="Managed IT",
                    unit_price="500",
                    quantity="1",
                    frequency="monthly",
                    effective_from="2026-11-01",
                ),
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


def thread_button(fake: FakeSlack, action_id: str, invoice_number: str) -> tuple[str, str]:
    """The value of `action_id` next to `invoice_number` in the digest's thread, and the thread ts."""
    for call in fake.calls_to("chat.postMessage"):
        blocks = call.params.get("blocks") or []
        for i, block in enumerate(blocks):
            if block["type"] == "section" and invoice_number in block["text"]["text"]:
                for element in blocks[i + 1]["elements"]:
                    if element["action_id"] == action_id:
                        return element["value"], call.params["thread_ts"]
    raise AssertionError(f"no {action_id} for {invoice_number}")


def test_billrun_digest_send_from_thread_email_received_and_shown_sent(
    world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer, engine: Engine
) -> None:
    slack: SlackSender = world["slack"]
    summary = find("monthly_billrun").run(world["ctx"], DEC_1_0200)  # type: ignore[union-attr]
    assert summary.endswith("digest posted: 2 invoices")
    digest = fake_slack.calls_to("chat.postMessage")[0].params
    assert digest["channel"] == "C0ALERTS" and digest["text"] == "2 invoices for 2026-12 ready: $1,100.00"
    assert [e["action_id"] for e in digest["blocks"][-1]["elements"]] == ["digest_send_all", "digest_review"]

    value, thread = thread_button(fake_slack, "digest_send_one", "INV-00001")
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

    # The customer can't be sent to: the reply says why and offers Add e-mail.
    value, thread = thread_button(fake_slack, "digest_send_one", "INV-00002")
    slack.block_action(
        "digest_send_one",
        value=value,
        channel_id="C0ALERTS",
        message_ts="1700000000.000099",
        thread_ts=thread,
    )
    refusal = fake_slack.calls_to("response_url")[-1].params
    assert refusal["blocks"][0]["accessory"]["action_id"] == "customer_add_email"
    assert len(smtp.received) == 1

    slack.block_action("customer_open", value=str(world["people"]["Harbour Dental"]))
    view = fake_slack.wait_for("views.open")[-1].params["view"]
    assert "*INV-00001* · 2026-12 · $550.00 · due 31 Dec 2026 · _sent_" in texts(view["blocks"])


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


def test_send_all_from_the_digest(world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer) -> None:
    slack: SlackSender = world["slack"]
    find("monthly_billrun").run(world["ctx"], DEC_1_0200)  # type: ignore[union-attr]
    digest = fake_slack.calls_to("chat.postMessage")[0]
    ts = "1700000000.000001"
    slack.block_action("digest_send_all", value="2026-12", channel_id="C0ALERTS", message_ts=ts)
    assert [m.envelope_to for m in smtp.received] == [["ap@harbour.example"]]
    updated = fake_slack.wait_for("chat.update")[-1].params
    assert updated["ts"] == ts and "*1* sent, *1* not sent" in texts(updated["blocks"])
    assert "INV-00002 (No Mail Motors)" in texts(updated["blocks"])
    buttons = [e["text"]["text"] for e in updated["blocks"][-1]["elements"]]
    assert (
        buttons == ["Send all (1)", "Review"]
        and digest.params["blocks"][-1]["elements"][0]["text"]["text"] == "Send all (2)"
    )
    reply = fake_slack.calls_to("chat.postMessage")[-1].params
    assert reply["thread_ts"] == ts and "sent all: 1 e-mailed, 1 not sent" in reply["text"]
    # Clicking again sends nothing more.
    slack.block_action("digest_send_all", value="2026-12", channel_id="C0ALERTS", message_ts=ts)
    assert len(smtp.received) == 1


def test_auto_send_reports_in_the_digest(
    world: dict[str, Any], fake_slack: FakeSlack, smtp: SmtpServer, engine: Engine
) -> None:
    with session_scope(engine) as db:
        row = billing_settings.load(db)
        row.auto_approve = row.auto_send = True
    summary = find("monthly_billrun").run(world["ctx"], DEC_1_0200)  # type: ignore[union-attr]
    assert summary.endswith("digest posted: 2 invoices")
    assert [m.envelope_to for m in smtp.received] == [["ap@harbour.example"]]
    digest = fake_slack.calls_to("chat.postMessage")[0].params
    report = texts(digest["blocks"])
    assert "E-mailed automatically: *1* sent, *1* not sent" in report and "No Mail Motors" in report
