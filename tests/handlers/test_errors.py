"""Failures reach the user as a clear message, never as silence or a stack trace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.errors import RebillError
from handlers import subcommands
from handlers.base import Call
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender


@pytest.fixture
def failing_subcommands() -> Iterator[None]:
    """Two subcommands that fail after ack, declared through the same registry features use."""

    def domain_failure(call: Call, args: str) -> None:
        call.ack()
        raise RebillError("Customer Acme is archived.")

    def bug(call: Call, args: str) -> None:
        call.ack()
        raise ZeroDivisionError("oops")

    subcommands.subcommand("zz-domain", usage="zz-domain", summary="test")(domain_failure)
    subcommands.subcommand("zz-bug", usage="zz-bug", summary="test")(bug)
    yield
    subcommands.SUBCOMMANDS.pop("zz-domain")
    subcommands.SUBCOMMANDS.pop("zz-bug")


def test_domain_error_is_shown_verbatim(
    failing_subcommands: None, slack: SlackSender, fake_slack: FakeSlack
) -> None:
    assert slack.command("zz-domain").status_code == 200
    message = fake_slack.wait_for("response_url")[0].params
    assert message["text"] == ":warning: Customer Acme is archived."
    assert message["response_type"] == "ephemeral"


def test_unexpected_error_gives_an_error_id_and_no_trace(
    failing_subcommands: None, slack: SlackSender, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    assert slack.command("zz-bug").status_code == 200
    text = fake_slack.wait_for("response_url")[0].params["text"]
    assert "error id" in text and "ZeroDivisionError" not in text and "oops" not in text
    error_id = text.split("`")[1]
    assert any(error_id in record.getMessage() for record in caplog.records)
