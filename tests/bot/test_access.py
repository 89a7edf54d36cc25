"""REBILL_ADMINS: named users and members of named user groups, nobody else."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import SIGNING_SECRET, make_settings
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender


@pytest.fixture
def group_slack(
    fake_slack: FakeSlack, db_url: str, engine: Engine, clock: FixedClock
) -> Iterator[SlackSender]:
    fake_slack.usergroups = {"S0BILLING": ["U0MEMBER"]}
    settings = make_settings(fake_slack, db_url, rebill_admins="U0ADMIN,S0BILLING")
    server = AppServer(settings, engine, clock).start()
    yield SlackSender(
        server.url + "/slack/events",
        SIGNING_SECRET,
        response_url=fake_slack.response_url,
        after_request=server.executor.wait_idle,
    )
    server.stop()


def test_user_group_members_are_admins_and_membership_is_cached(
    group_slack: SlackSender, fake_slack: FakeSlack, clock: FixedClock
) -> None:
    assert "/rebill help" in group_slack.command("help", user_id="U0MEMBER").json()["text"]
    assert "/rebill help" in group_slack.command("help", user_id="U0MEMBER").json()["text"]
    assert len(fake_slack.calls_to("usergroups.users.list")) == 1

    fake_slack.usergroups["S0BILLING"] = []
    clock.advance(minutes=6)
    assert "not authorised" in group_slack.command("help", user_id="U0MEMBER").json()["text"]
    assert len(fake_slack.calls_to("usergroups.users.list")) == 2


def test_named_admin_needs_no_lookup(group_slack: SlackSender, fake_slack: FakeSlack) -> None:
    assert "/rebill help" in group_slack.command("help", user_id="U0ADMIN").json()["text"]
    assert fake_slack.calls_to("usergroups.users.list") == []


def test_refused_button_click_and_home_tab(group_slack: SlackSender, fake_slack: FakeSlack) -> None:
    group_slack.block_action("anything", value="1", user_id="U0STRANGER")
    posted = fake_slack.wait_for("response_url")
    assert "not authorised" in posted[0].params["text"]
    group_slack.event({"type": "app_home_opened", "user": "U0STRANGER", "tab": "home"})
    published = fake_slack.wait_for("views.publish")
    assert "not authorised" in str(published[0].params["view"])
