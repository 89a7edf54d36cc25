"""On SQLite, reads do not wait for writers, and a busy database says so (issue 10, item 4)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.db import make_engine
from tests import factories
from tests.conftest import SIGNING_SECRET, create_schema, make_settings
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import VALID, form_values, open_new_form


@pytest.fixture
def sqlite_app(tmp_path: Path, fake_slack: FakeSlack) -> Iterator[tuple[SlackSender, str]]:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = make_engine(url, sqlite_busy_timeout_ms=200)
    create_schema(engine)
    factories.configure(engine)
    factories.customer(engine, "Acme Plumbing")
    server = AppServer(make_settings(fake_slack, url), engine, FixedClock()).start()
    sender = SlackSender(
        server.url + "/slack/events",
        SIGNING_SECRET,
        response_url=fake_slack.response_url,
        after_request=server.executor.wait_idle,
    )
    yield sender, str(tmp_path / "busy.db")
    server.stop()
    engine.dispose()


def test_reads_do_not_wait_for_a_writer_and_writes_say_busy(
    sqlite_app: tuple[SlackSender, str], fake_slack: FakeSlack
) -> None:
    slack, path = sqlite_app
    form = open_new_form(slack, fake_slack)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a CSV import or a bill run, holding the write lock
    try:
        listed = slack.command("customers").json()
        assert listed["text"] == "1 end customers"
        assert slack.command("customer Acme").status_code == 200
        assert fake_slack.wait_for("views.open", 2)[-1].params["view"]["callback_id"] == "customer_view"

        slack.view_submission(form, form_values(**VALID))
        told = fake_slack.wait_for("chat.postMessage")[-1].params["text"]
        assert told == ":warning: rebill-bot is busy, try again in a moment."
    finally:
        writer.execute("ROLLBACK")
        writer.close()
