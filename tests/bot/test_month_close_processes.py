"""The month close with real processes: two replicas at once, a replica killed while posting the
thread, one killed while the mail server holds its message. Each time: one honest report, every
thread entry exactly once, no e-mail twice unless a person says so."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.jobs import find
from bot.scheduler import job_context
from core import billing_settings
from core.clock import DEFAULT_TIMEZONE
from core.db import session_scope
from core.delivery import Outcome, send_invoice
from core.mailer import SmtpConfig
from integrations.config import PsaSettings
from models.invoices import Invoice
from tests import factories
from tests.conftest import make_settings
from tests.harness.cli import CLI, app_env
from tests.harness.clock import FixedClock
from tests.harness.delivery import light_templates
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_views import texts
from tests.harness.smtp import SmtpServer

DEC_1_0200 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 1 Dec 02:00 in Sydney: bill-run time
NOW = DEC_1_0200 + timedelta(minutes=1)
NO_PSA = PsaSettings(_env_file=None, rebill_psa=None)  # type: ignore[call-arg]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def book(engine: Engine, people: list[tuple[str, str | None]], *, auto: bool) -> None:
    factories.configure(engine)
    with session_scope(engine) as db:
        row = billing_settings.load(db)
        row.alert_channel_id = "C0ALERTS"
        row.auto_approve = row.auto_send = auto
    for name, email in people:
        customer = factories.customer(engine, name, email=email)
        factories.monthly_charge(
            engine, customer.id, "Managed IT", unit_price="100", effective_from="2026-11-01"
        )


def mail_env(port: int) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": "60",
        "REBILL_FROM_EMAIL": "billing@msp.example",
        "REBILL_TEMPLATES_DIR": str(light_templates()),
        "REBILL_TIMEZONE": DEFAULT_TIMEZONE,
    }


def start_job(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "jobs", "run", "monthly_billrun", "--at", DEC_1_0200.isoformat()],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def invoice_ids(engine: Engine) -> list[int]:
    with Session(engine) as db:
        return [i.id for i in db.exec(select(Invoice).order_by(Invoice.id)).all() if i.id is not None]


def thread_entries(fake: FakeSlack) -> Counter[int]:
    """How many times each invoice appeared in a thread message (from the messages Slack holds)."""
    seen: Counter[int] = Counter()
    for message in fake.messages:
        meta = message.get("metadata") or {}
        if message.get("thread_ts") and meta.get("event_type") == "rebill_close_thread":
            seen.update(int(part) for part in meta["event_payload"]["invoices"].split(","))
    return seen


def reports(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to("chat.postMessage") if not c.params.get("thread_ts")]


def test_two_replicas_one_report_that_matches_the_mail_server(
    db_url: str, engine: Engine, fake_slack: FakeSlack, smtp: SmtpServer, tmp_path: Path
) -> None:
    people: list[tuple[str, str | None]] = [(f"Client {n}", f"ap{n}@ok.example") for n in range(5)]
    people += [("Bounce Pty", "nobody@bounce.example"), ("No Mail Co", None)]
    book(engine, people, auto=True)
    smtp.sink.refuse_rcpt_for["nobody@bounce.example"] = "550 5.1.1 No such user here"
    env = app_env(fake_slack, db_url, REBILL_NOW=NOW.isoformat(), **mail_env(smtp.port))
    replicas = [start_job(env, tmp_path) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in replicas]
    assert [p.returncode for p in replicas] == [0, 0], outputs

    [report] = reports(fake_slack)
    shown = texts(report["blocks"])
    delivered = sorted(to for m in smtp.received for to in m.envelope_to)
    assert delivered == [f"ap{n}@ok.example" for n in range(5)]  # each once
    assert f":white_check_mark: sent *{len(delivered)}*" in shown, shown
    assert ":x: failed *1*" in shown and "Bounce Pty" in shown and "550 5.1.1 No such user here" in shown
    assert ":double_vertical_bar: held *1*" in shown and "already being sent" not in shown
    assert thread_entries(fake_slack) == Counter(invoice_ids(engine))  # every invoice once
    said = sorted(line for out in outputs for line in out.splitlines() if line.startswith("monthly_billrun"))
    assert sum("report posted: 7 thread entries posted" in line for line in said) == 1, said


def test_killed_while_posting_the_thread_then_restarted_posts_each_entry_once(
    db_url: str, engine: Engine, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    book(engine, [(f"Client {n:02d}", f"ap{n}@ok.example") for n in range(45)], auto=False)
    env = app_env(fake_slack, db_url, REBILL_NOW=NOW.isoformat())
    # Slack takes the second thread message, then the replica dies before it hears back.
    stall = fake_slack.stall_post(
        lambda p: bool(p.get("thread_ts")) and p.get("text", "").startswith("Invoices 21")
    )
    first = start_job(env, tmp_path)
    try:
        assert stall.arrived.wait(timeout=120), first.communicate(timeout=5)
        first.kill()
        first.wait(timeout=30)
    finally:
        stall.release.set()
    assert thread_entries(fake_slack) == Counter(invoice_ids(engine)[:40])

    restarted = start_job(env, tmp_path)
    out = restarted.communicate(timeout=120)[0]
    assert restarted.returncode == 0, out
    assert "report posted: 5 thread entries posted, 20 found already posted" in out
    assert len(reports(fake_slack)) == 1
    assert thread_entries(fake_slack) == Counter(invoice_ids(engine))  # 45 entries, each exactly once
    again = start_job(env, tmp_path)
    assert "report posted: 0 thread entries posted" in again.communicate(timeout=120)[0]
    assert thread_entries(fake_slack) == Counter(invoice_ids(engine))


def test_killed_during_an_smtp_send_is_delivery_uncertain_until_a_person_decides(
    db_url: str, engine: Engine, fake_slack: FakeSlack, smtp: SmtpServer, tmp_path: Path
) -> None:
    book(engine, [("Alpha Dental", "ap@alpha.example"), ("Beta Bakery", "ap@beta.example")], auto=True)
    smtp.sink.hang_after_data = True  # takes INV-00001's message, never answers
    env = app_env(fake_slack, db_url, REBILL_NOW=NOW.isoformat(), **mail_env(smtp.port))
    replica = start_job(env, tmp_path)
    try:
        assert smtp.sink.data_seen.wait(timeout=120), replica.communicate(timeout=5)
        replica.kill()
        replica.wait(timeout=30)
    finally:
        smtp.sink.hang_after_data = False
        smtp.sink.release.set()
    assert smtp.received == [] and reports(fake_slack) == []

    # The restarted scheduler finishes the close: Beta is sent, Alpha is left for a person.
    settings = make_settings(
        fake_slack,
        db_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        rebill_from_email="billing@msp.example",
        smtp_timeout=5,
        rebill_templates_dir=str(light_templates()),
    )
    clock = FixedClock(NOW + timedelta(minutes=5))
    ctx = job_context(settings, engine, clock, NO_PSA)
    summary = find("monthly_billrun").run(ctx, DEC_1_0200)  # type: ignore[union-attr]
    assert "1 e-mailed, 0 not" in summary, summary
    assert [m.envelope_to for m in smtp.received] == [["ap@beta.example"]]
    [report] = reports(fake_slack)
    shown = texts(report["blocks"])
    assert "delivery uncertain: check your mail server's log" in shown and "*INV-00001*" in shown
    card = next(
        b
        for b in report["blocks"]
        if b["type"] == "actions" and b["elements"][0]["action_id"] == "close_send_again"
    )
    assert [e["text"]["text"] for e in card["elements"]] == ["Send again", "It was sent"]

    clock.advance(days=2)
    find("monthly_billrun").run(ctx, DEC_1_0200)  # type: ignore[union-attr]
    assert len(smtp.received) == 1  # never sent again by itself

    config = SmtpConfig(
        host="127.0.0.1", port=smtp.port, from_email="billing@msp.example", security="none", timeout=5
    )
    again = send_invoice(
        engine=engine,
        smtp=config,
        invoice_ref="INV-00001",
        actor="U0ADMIN",
        clock=ctx.clock,
        takeover=True,
        templates_dir=light_templates(),
    )
    assert again.outcome == Outcome.SENT
    assert sorted(to for m in smtp.received for to in m.envelope_to) == [
        "ap@alpha.example",
        "ap@beta.example",
    ]


def test_killed_after_slack_took_the_report_then_restarted_posts_no_second_report(
    db_url: str, engine: Engine, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    book(engine, [(f"Client {n}", f"ap{n}@ok.example") for n in range(3)], auto=False)
    env = app_env(fake_slack, db_url, REBILL_NOW=NOW.isoformat())
    stall = fake_slack.stall_post(
        lambda p: not p.get("thread_ts") and p.get("text", "").startswith("Month close")
    )
    first = start_job(env, tmp_path)
    try:
        assert stall.arrived.wait(timeout=120), first.communicate(timeout=5)
        first.kill()
        first.wait(timeout=30)
    finally:
        stall.release.set()
    restarted = start_job(env, tmp_path)
    out = restarted.communicate(timeout=120)[0]
    assert "report posted: 3 thread entries posted" in out, out
    [report] = [m for m in fake_slack.messages if "thread_ts" not in m]
    assert {m["thread_ts"] for m in fake_slack.messages if "thread_ts" in m} == {report["ts"]}
    assert thread_entries(fake_slack) == Counter(invoice_ids(engine))
