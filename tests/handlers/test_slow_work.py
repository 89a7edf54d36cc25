"""Slow work never starves acks (issue 10, item 3): sends wait on the slow pool, acks keep flowing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests import factories
from tests.conftest import SIGNING_SECRET, make_settings
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import VALID, form_values, open_new_form, texts
from tests.harness.smtp import SilentServer

HELD = 10


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.stop()


def test_ten_sends_held_by_a_silent_mail_server_leave_acks_fast(
    engine: Engine, fake_slack: FakeSlack, db_url: str, clock: FixedClock, silent: SilentServer
) -> None:
    settings = make_settings(
        fake_slack,
        db_url,
        smtp_host="127.0.0.1",
        smtp_port=silent.port,
        smtp_security="none",
        rebill_from_email="billing@msp.example",
        smtp_timeout=20,
    )
    invoice_ids = factories.invoices_to_send(engine, HELD)
    server = AppServer(settings, engine, clock).start()
    slack = SlackSender(
        server.url + "/slack/events",
        SIGNING_SECRET,
        response_url=fake_slack.response_url,
        after_request=server.executor.listeners.wait_idle,  # the listeners, not the held sends
    )
    try:
        view = {"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"}
        for invoice_id in invoice_ids:
            assert slack.block_action("invoice_send", value=str(invoice_id), view=view).status_code == 200
        silent.wait_held(HELD)  # all ten rendered and now waiting on the mail server
        assert server.executor.slow.pending == HELD

        started = time.perf_counter()
        help_reply = slack.command("help")
        help_took = time.perf_counter() - started
        assert "rebill-bot usage" in help_reply.json()["text"]

        form = open_new_form(slack, fake_slack)
        started = time.perf_counter()
        created = slack.view_submission(form, form_values(**VALID))
        create_took = time.perf_counter() - started
        assert created.json()["response_action"] == "update"
        assert server.executor.slow.pending == HELD  # still held while we were answered
        assert help_took < 1.0 and create_took < 1.0, (help_took, create_took)
    finally:
        silent.stop()  # the held connections are reset: each send fails and says so
        server.executor.wait_idle(timeout=30)
        server.stop()
    notices = [
        texts(c.params["view"]["blocks"])
        for c in fake_slack.calls_to("views.push")
        if "mail server" in texts(c.params["view"]["blocks"])
    ]
    assert len(notices) == HELD  # every user heard how their send ended
