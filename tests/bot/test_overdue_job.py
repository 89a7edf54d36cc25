"""The daily overdue alert through the real job: the bill run's invoice, approved, past its due date,
posted once to the alerts channel of a (fake) Slack over HTTP; drafts and paid invoices never."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.jobs import find
from bot.scheduler import job_context
from bot.settings import Settings
from core import invoices
from core.billrun import run_bill
from core.calculation import Period
from core.db import session_scope
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.jobs import NO_PSA, book
from tests.harness.slack_views import texts

JAN_2_0900 = datetime(2027, 1, 2, 9, 0, tzinfo=UTC) - timedelta(hours=11)


def test_overdue_alert_job_posts_each_overdue_invoice_once(
    settings: Settings, engine: Engine, fake_slack: FakeSlack
) -> None:
    book(engine)  # alerts channel C0ALERTS, one customer with a monthly charge
    clock = FixedClock(JAN_2_0900)
    result = run_bill(engine=engine, period=Period(2026, 12), actor="U0ADMIN", clock=clock)
    assert result.created == 1
    with session_scope(engine) as db:
        (invoice,) = invoices.list_invoices(db=db, period="2026-12")
        assert invoice.status == "draft"
    ctx = job_context(settings, engine, clock, NO_PSA)
    spec = find("overdue_alert")
    assert spec is not None
    assert spec.run(ctx, JAN_2_0900) == "no newly overdue invoices"  # a draft is not owed
    assert fake_slack.calls_to("chat.postMessage") == []

    with session_scope(engine) as db:
        invoices.approve(db=db, ref=invoice.number, actor="U0ADMIN", clock=clock)
    assert (
        spec.run(ctx, JAN_2_0900 - timedelta(days=2)) == "no newly overdue invoices"
    )  # due, not yet overdue
    assert spec.run(ctx, JAN_2_0900) == "posted: 1 newly overdue"
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "C0ALERTS"
    assert post.params["text"] == "1 invoice became overdue: $11.00"
    shown = texts(post.params["blocks"])
    assert invoice.number in shown and "due 31 Dec 2026 (2 days ago)" in shown

    assert spec.run(ctx, JAN_2_0900 + timedelta(days=1)) == "no newly overdue invoices"  # once only
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
