from __future__ import annotations

import time

from sqlalchemy.engine import Engine

from tests import factories
from tests.conftest import SIGNING_SECRET
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, sign


def test_help_lists_every_subcommand(slack: SlackSender) -> None:
    response = slack.command("help")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "/rebill help" in body["text"]


def test_no_subcommand_and_unknown_subcommand_show_usage(slack: SlackSender, engine: Engine) -> None:
    unconfigured = slack.command("").json()
    assert unconfigured["blocks"][1]["elements"][0]["action_id"] == "setup_open"
    assert "/rebill help" in str(unconfigured["blocks"])
    factories.configure(engine)
    assert "/rebill help" in slack.command("").json()["text"]
    unknown = slack.command("frobnicate <!channel>").json()
    assert "/rebill help" in unknown["text"]
    shown = " ".join(b["text"]["text"] for b in unknown["blocks"])
    assert "`frobnicate`" in shown


def test_unsigned_wrongly_signed_and_stale_requests_are_refused(slack: SlackSender) -> None:
    body = "command=%2Frebill&text=help&user_id=U0ADMIN"
    assert slack.post(body, signed=False).status_code == 401
    assert slack.post(body, signature="v0=" + "0" * 64).status_code == 401
    stale = int(time.time()) - 6 * 60
    assert (
        slack.post(body, timestamp=stale, signature=sign(SIGNING_SECRET, str(stale), body)).status_code == 401
    )
    assert slack.post(body).status_code == 200


def test_user_not_in_admins_is_refused(slack: SlackSender, fake_slack: FakeSlack) -> None:
    body = slack.command("help", user_id="U0STRANGER").json()
    assert "not authorised" in body["text"]
    assert "/rebill help" not in body["text"]
