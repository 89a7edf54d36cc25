"""One business clock (issue 11, item 1): at 23:30 UTC on 30 November it is already 1 December in
Sydney, the bill-run day. A bill run started then from Slack, from the CLI and by the scheduler
bills the same month with the same issue and due dates, because all three read "today" from one
`BusinessClock` and ask one rule (`core.billrun.period_to_bill`) which month that is."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.jobs import find
from bot.scheduler import job_context
from core import billing_settings
from core.billrun import period_to_bill
from core.clock import DEFAULT_TIMEZONE, BusinessClock, zone_named
from core.db import session_scope
from handlers.invoice_views import Ids
from integrations.config import PsaSettings
from models.invoices import Invoice
from tests import factories
from tests.conftest import SIGNING_SECRET
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender

AT = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 10:30 on 1 Dec in Sydney
BILL_RUN_HOUR = 10  # so the scheduled run is due at 10:00 Sydney, 23:00 UTC on 30 Nov
NO_PSA = PsaSettings(_env_file=None, rebill_psa=None)  # type: ignore[call-arg]
# December, issued on its first day, due 14 days later: what every entry point must produce.
EXPECTED = [("2026-12", date(2026, 12, 1), date(2026, 12, 15))]


def _book(engine: Engine) -> None:
    factories.configure(engine, terms=14)
    with session_scope(engine) as db:
        billing_settings.load(db).bill_run_hour = BILL_RUN_HOUR
    customer = factories.customer(engine, "Harbour Dental")
    factories.monthly_charge(engine, customer.id, "Managed IT", unit_price="500", effective_from="2026-11-01")


def _issued(engine: Engine) -> list[tuple[str, date, date]]:
    with session_scope(engine, write=False) as db:
        rows = db.exec(select(Invoice).order_by(col(Invoice.id))).all()
        return [(i.period, i.issue_date, i.due_date) for i in rows]


def test_from_slack(engine: Engine, settings, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    _book(engine)
    server = AppServer(settings, engine, FixedClock(AT)).start()
    try:
        slack = SlackSender(
            server.url + "/slack/events",
            SIGNING_SECRET,
            response_url=fake_slack.response_url,
            after_request=server.executor.wait_idle,
        )
        assert "Working out the bill run for 2026-12" in slack.command("billrun").json()["text"]
        preview = fake_slack.calls_to("response_url")[-1].params
        run = next(
            e
            for b in preview["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == Ids.BILLRUN_RUN
        )
        slack.block_action(Ids.BILLRUN_RUN, value=run["value"])
    finally:
        server.stop()
    assert _issued(engine) == EXPECTED


def test_from_the_cli(engine: Engine, db_url: str, tmp_path: Path) -> None:
    _book(engine)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REBILL_", "SLACK_", "SMTP_"))},
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REBILL_NOW": AT.isoformat(),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "billrun"],
        cwd=tmp_path,  # no stray .env
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _issued(engine) == EXPECTED


def test_from_the_scheduler(engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    _book(engine)
    ctx = job_context(settings, engine, FixedClock(AT), NO_PSA)
    due = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the cron's 10:00 on 1 Dec, Sydney
    find("monthly_billrun").run(ctx, due)  # type: ignore[union-attr]
    assert _issued(engine) == EXPECTED


@pytest.mark.parametrize(
    ("local_day", "bill_run_day", "period"),
    [
        (date(2026, 11, 25), 1, "2026-12"),  # before the run: the coming run's month
        (date(2026, 12, 1), 1, "2026-12"),  # on the bill-run day: this month, as the scheduler bills
        (date(2026, 12, 2), 1, "2027-01"),  # after it: the next one
        (date(2026, 11, 20), 25, "2026-11"),  # a late bill-run day still to come this month
    ],
)
def test_the_one_rule_for_which_month_a_bill_run_bills(
    engine: Engine, local_day: date, bill_run_day: int, period: str
) -> None:
    factories.configure(engine)
    with session_scope(engine) as db:
        billing_settings.load(db).bill_run_day = bill_run_day
    with session_scope(engine, write=False) as db:
        assert str(period_to_bill(db=db, today=local_day)) == period


def test_the_business_day_is_sydneys_not_utcs() -> None:
    clock = BusinessClock(FixedClock(AT), zone_named(None))
    assert clock.timezone == DEFAULT_TIMEZONE
    assert clock.today() == date(2026, 12, 1) and AT.date() == date(2026, 11, 30)
    with pytest.raises(ValueError, match="not a time zone"):
        zone_named("Mars/Olympus_Mons")
