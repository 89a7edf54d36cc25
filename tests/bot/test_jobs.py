"""Scheduled jobs: exactly once across processes, missed runs made up, Slack etiquette kept."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.jobs import catch_up, find, previous_fire_time
from bot.scheduler import job_context
from bot.settings import Settings
from core import charges
from core.charge_validation import validate_recurring_charge
from core.clock import DEFAULT_TIMEZONE
from core.db import session_scope
from handlers.poster import Poster
from models.customers import EndCustomer
from models.invoices import Invoice
from tests import factories
from tests.harness.cli import CLI, app_env
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.jobs import NO_PSA, SYDNEY_0930, book
from tests.harness.slack_views import texts


def test_previous_fire_time() -> None:
    trigger = CronTrigger(hour=9, minute=0, timezone=DEFAULT_TIMEZONE)
    last = previous_fire_time(trigger, SYDNEY_0930, timedelta(hours=12))
    assert last is not None and last.isoformat() == "2026-12-02T09:00:00+11:00"
    assert previous_fire_time(trigger, SYDNEY_0930 - timedelta(hours=1), timedelta(hours=12)) is None


def test_missing_email_digest_posts_once_and_is_silent_when_nobody(
    settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    book(engine)
    ctx = job_context(settings, engine, FixedClock(SYDNEY_0930), NO_PSA)
    spec = find("missing_email_digest")
    assert spec is not None
    assert spec.run(ctx, SYDNEY_0930) == "posted: 1 customer(s) without an e-mail"
    assert spec.run(ctx, SYDNEY_0930) == "already done for 2026-12-02"
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "C0ALERTS"
    shown = texts(post.params["blocks"])
    assert (
        "&lt;!here&gt; No Mail &amp; Co" in shown and "Idle No Mail" not in shown and "Has Mail" not in shown
    )
    assert post.params["blocks"][1]["accessory"]["action_id"] == "customer_add_email"

    with session_scope(engine) as db:
        for customer in db.exec(select(EndCustomer)).all():
            customer.email = customer.email or "fixed@x.example"
    assert (
        spec.run(ctx, SYDNEY_0930 + timedelta(days=1))
        == "nobody is missing an e-mail address: nothing posted"
    )
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_a_429_is_waited_out_and_posted_once(
    settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    book(engine)
    fake_slack.fail_next("chat.postMessage", status=429, error="ratelimited", retry_after=1)
    ctx = job_context(settings, engine, FixedClock(SYDNEY_0930), NO_PSA)
    assert find("missing_email_digest").run(ctx, SYDNEY_0930).startswith("posted")  # type: ignore[union-attr]
    calls = fake_slack.calls_to("chat.postMessage")
    assert len(calls) == 2  # the refused attempt, then the one that landed


def test_poster_paces_each_channel() -> None:
    slept: list[float] = []
    ticks = iter([0.0, 0.2, 1.2, 1.3, 1.3, 2.5])

    class Client:
        def chat_postMessage(self, **kw: object) -> dict[str, str]:
            return {"ts": "1.0"}

    poster = Poster(Client(), sleep=slept.append, monotonic=lambda: next(ticks))  # type: ignore[arg-type]
    poster.post("C1", "a", [])
    poster.post("C1", "b", [])
    poster.post("C2", "c", [])
    assert slept == [pytest.approx(0.8)]


def test_two_scheduler_processes_post_each_alert_once_and_make_up_a_missed_run(
    db_url: str, engine: Engine, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    book(engine)
    # Both start at 09:30, after the 09:00 digest they were not running for: it must be made up, once.
    env = app_env(fake_slack, db_url, REBILL_NOW=SYDNEY_0930.isoformat())
    processes = [
        subprocess.Popen(
            [*CLI, "scheduler"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outputs = []
        for process in processes:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:  # each prints this once its catch-up pass is finished
                lines.append(line)
                if "catch-up done" in line:
                    break
            outputs.append("".join(lines))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
    posts = fake_slack.calls_to("chat.postMessage")
    digests = [p for p in posts if p.params.get("thread_ts") is None]
    # The missed 1 Dec bill run was made up once: one invoice digest (+ its thread), one e-mail digest.
    assert sorted(p.params["text"] for p in digests) == [
        "1 end customer can't be sent invoices: no e-mail address",
        "Month close 2026-12: 1 invoice, $11.00",
    ], outputs
    assert len(posts) == 3
    lines = sorted(line for out in outputs for line in out.splitlines() if line.startswith("catch-up m"))
    # The second replica finds the report posted, or still being posted by the first: either way
    # it posts nothing.
    quiet = ("report being posted by another process", "being closed by another process: it posts the report")
    for said in quiet:
        lines = [line.replace(said, "report posted: 0 thread entries posted") for line in lines]
    assert lines == [
        "catch-up missing_email_digest: already done for 2026-12-02",
        "catch-up missing_email_digest: posted: 1 customer(s) without an e-mail",
        "catch-up monthly_billrun: month close 2026-12: 0 created, 1 already there (ran late); "
        "report posted: 0 thread entries posted",
        "catch-up monthly_billrun: month close 2026-12: 1 created, 0 already there (ran late); "
        "report posted: 1 thread entry posted",
    ], outputs
    with Session(engine) as db:
        assert [i.number for i in db.exec(select(Invoice)).all()] == ["INV-00001"]


def test_jobs_cli(db_url: str, engine: Engine, fake_slack: FakeSlack, tmp_path: Path) -> None:
    book(engine)
    env = app_env(fake_slack, db_url, REBILL_NOW=SYDNEY_0930.isoformat())
    listed = subprocess.run(
        [*CLI, "jobs", "list"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert "missing_email_digest     next 2026-12-03 09:00 AEDT" in listed.stdout
    unknown = subprocess.run(
        [*CLI, "jobs", "run", "nope"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == 2 and "missing_email_digest" in unknown.stderr
    ran = subprocess.run(
        [*CLI, "jobs", "run", "missing_email_digest"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "posted: 1" in ran.stdout


def test_monthly_billrun_digest_and_thread(settings: Settings, engine: Engine, fake_slack: FakeSlack) -> None:
    book(engine)
    for n in range(45):  # enough for three thread messages
        customer = factories.customer(engine, f"Client {n:02d}")
        with session_scope(engine) as db:
            charges.add_recurring_charge(
                db=db,
                actor="U0ADMIN",
                customer_id=customer.id,
                data=validate_recurring_charge(
                    description="Backup",
                    unit_price=str(10 + n),
                    quantity="1",
                    frequency="monthly",
                    effective_from="2026-11-01",
                ),
                clock=FixedClock(),
            )
    first_of_month = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 1 Dec 02:00 AEDT
    ctx = job_context(settings, engine, FixedClock(first_of_month), NO_PSA)
    spec = find("monthly_billrun")
    assert spec is not None
    assert spec.run(ctx, first_of_month).endswith("report posted: 46 thread entries posted")
    assert spec.run(ctx, first_of_month).endswith("report posted: 0 thread entries posted")
    posts = fake_slack.calls_to("chat.postMessage")
    report, *thread = posts
    assert report.params["text"] == "Month close 2026-12: 46 invoices, $1,595.00"
    assert report.params["metadata"] == {
        "event_type": "rebill_close_report",
        "event_payload": {"period": "2026-12"},
    }
    assert [b["elements"][0]["action_id"] for b in report.params["blocks"] if b["type"] == "actions"][-1] == (
        "digest_review"
    )
    assert [len(t.params["blocks"]) for t in thread] == [40, 40, 12]
    assert len({t.params["thread_ts"] for t in thread}) == 1
    assert "⚠ no e-mail: can't be sent" in texts([b for t in thread for b in t.params["blocks"]])


def test_scheduler_down_40_days_across_two_bill_run_days_makes_up_both_months_once_oldest_first(
    settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    book(engine)
    nov_1 = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)  # 1 Nov 02:00 AEDT: the last run before the outage
    clock = FixedClock(nov_1)
    ctx = job_context(settings, engine, clock, NO_PSA)
    assert "month close 2026-11: 1 created" in find("monthly_billrun").run(ctx, nov_1)  # type: ignore[union-attr]
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC) + timedelta(days=40))  # back on 4 Jan
    done = [summary for job, summary in catch_up(ctx) if job == "monthly_billrun"]
    assert [s.split(":")[0] for s in done] == ["month close 2026-12", "month close 2027-01"]
    assert all("1 created" in s and "(ran late)" in s for s in done)
    with Session(engine) as db:
        billed = [(i.period, i.number) for i in db.exec(select(Invoice).order_by(Invoice.id)).all()]
    assert billed == [("2026-11", "INV-00001"), ("2026-12", "INV-00002"), ("2027-01", "INV-00003")]
    reports = [
        p for p in fake_slack.calls_to("chat.postMessage") if p.params["text"].startswith("Month close")
    ]
    assert [r.params["text"].split(":")[0] for r in reports] == [
        "Month close 2026-11",
        "Month close 2026-12",
        "Month close 2027-01",
    ]
    assert "ran late (due 1 Dec 2026" in texts(reports[1].params["blocks"])
    assert "ran late" not in texts(reports[0].params["blocks"])
    # Back again the next day: nothing more is billed or posted.
    clock.advance(days=1)
    catch_up(ctx)
    with Session(engine) as db:
        assert len(db.exec(select(Invoice)).all()) == 3
    assert (
        len(
            [p for p in fake_slack.calls_to("chat.postMessage") if p.params["text"].startswith("Month close")]
        )
        == 3
    )


def test_a_database_without_any_month_close_makes_up_only_the_latest_month(
    settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    book(engine)  # e.g. upgraded from before month closes: old months are not billed in bulk
    ctx = job_context(settings, engine, FixedClock(datetime(2027, 3, 10, 0, 0, tzinfo=UTC)), NO_PSA)
    done = [summary for job, summary in catch_up(ctx) if job == "monthly_billrun"]
    assert [s.split(":")[0] for s in done] == ["month close 2027-03"]
    with Session(engine) as db:
        assert [i.period for i in db.exec(select(Invoice)).all()] == ["2027-03"]
