"""The slow-work pool: bounded, refuses when full, and reports a job's failure to the user."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from core.errors import Busy
from core.workpool import INTERACTIVE_TIMEOUT_S, WorkPool, interactive_timeout
from tests import factories
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender


def test_a_full_pool_refuses_instead_of_queueing_forever() -> None:
    release = threading.Event()
    executor = ThreadPoolExecutor(1)
    pool = WorkPool(executor, max_pending=2)
    try:
        running = pool.submit(release.wait)
        queued = pool.submit(lambda: "done")
        with pytest.raises(Busy, match="rebill-bot is busy, try again in a moment"):
            pool.submit(lambda: None)
        release.set()
        running.result(timeout=5)
        assert queued.result(timeout=5) == "done"
        assert pool.submit(lambda: "again").result(timeout=5) == "again"  # slots come back
    finally:
        release.set()
        executor.shutdown()


def test_interactive_timeout_caps_outside_calls() -> None:
    assert interactive_timeout(600) == INTERACTIVE_TIMEOUT_S and interactive_timeout(5) == 5


def test_a_slow_job_that_fails_is_reported_to_the_user(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    [invoice_id] = factories.invoices_to_send(engine, 1)
    view = {"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"}
    assert slack.block_action("invoice_send", value=str(invoice_id), view=view).status_code == 200
    told = fake_slack.wait_for("chat.postMessage")[-1].params
    assert told["channel"] == "U0ADMIN" and "E-mail is not configured" in told["text"]
