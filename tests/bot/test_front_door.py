"""The HTTP front door: what an outsider's request can make the server do (issue 10, items 1, 2, 5)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from bot.front_door import MAX_BODY_BYTES
from core.errors import RebillError
from handlers import subcommands
from handlers.base import Call
from handlers.response_urls import allowed_response_url
from tests.harness.app_server import AppServer
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, sign

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def elsewhere() -> Iterator[FakeSlack]:
    """Some other HTTP server, reachable as "localhost": not Slack's host, not SLACK_API_URL's."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def _command_form(response_url: str, *, user_id: str = "U0ADMIN", text: str = "zz-fail", **extra: str) -> str:
    form = {
        "team_id": "T0TEST",
        "user_id": user_id,
        "command": "/rebill",
        "text": text,
        "response_url": response_url,
        "trigger_id": "1.trigger",
        **extra,
    }
    return urlencode(form)


@pytest.fixture
def failing_subcommand() -> Iterator[None]:
    def fail(call: Call, args: str) -> None:
        call.ack()
        raise RebillError("it failed")

    subcommands.subcommand("zz-fail", usage="zz-fail", summary="test")(fail)
    yield
    subcommands.SUBCOMMANDS.pop("zz-fail")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": f"{int(time.time())}²".encode(), "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time()))},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=zz"},
    ],
    ids=["text-timestamp", "non-ascii-digits", "no-timestamp", "no-signature", "bad-signature-shape"],
)
def test_an_unsigned_request_reaches_no_listener_and_no_error_handler(
    headers: dict[str, str | bytes], app_server: AppServer, fake_slack: FakeSlack, failing_subcommand: None
) -> None:
    body = _command_form(fake_slack.response_url(), text="zz-fail")
    response = httpx.post(
        app_server.url + "/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    app_server.executor.wait_idle()
    assert response.status_code == 401
    assert fake_slack.calls == []  # no response_url POST, no DM to the body's user_id


def test_error_messages_go_only_to_slack_hosts(
    slack: SlackSender, elsewhere: FakeSlack, fake_slack: FakeSlack, failing_subcommand: None
) -> None:
    slack.response_url = lambda: elsewhere.response_url().replace("127.0.0.1", "localhost")
    assert slack.command("zz-fail").status_code == 200
    assert elsewhere.calls == []
    # The user still hears about it, by DM, through the Web API.
    assert fake_slack.wait_for("chat.postMessage")[0].params["text"] == ":warning: it failed"


def test_allowed_response_urls() -> None:
    api = "https://slack.com/api/"
    assert allowed_response_url("https://hooks.slack.com/commands/T1/2/x", slack_api_url=api)
    assert allowed_response_url("https://hooks.slack-gov.com/actions/T1/2/x", slack_api_url=api)
    assert allowed_response_url("http://127.0.0.1:9/response/1", slack_api_url="http://127.0.0.1:9/api/")
    for url in (
        "http://hooks.slack.com/commands/x",  # not https
        "https://hooks.slack.com.evil.example/x",
        "https://user@hooks.slack.com/x",
        "https://hooks.slack.com:8443/x",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:10/response/1",  # the API host, another port
        "",
        None,
    ):
        assert not allowed_response_url(url, slack_api_url="http://127.0.0.1:9/api/"), url


def test_bodies_over_one_mib_are_refused_without_being_read(app_server: AppServer) -> None:
    ts = str(int(time.time()))
    big = b"a" * (MAX_BODY_BYTES + 1)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(SECRET, ts, big.decode()),
    }
    response = httpx.post(app_server.url + "/slack/events", content=big, headers=headers)
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the capped read refuses it
        for _ in range(20):
            yield b"a" * 65536

    streamed = httpx.post(app_server.url + "/slack/events", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert httpx.get(app_server.url + "/healthz").status_code == 200


def test_the_signature_is_checked_before_the_body_is_parsed(
    app_server: AppServer, caplog: pytest.LogCaptureFixture
) -> None:
    ts = str(int(time.time()))
    garbage = "payload=" + "%7B" * 1000  # not JSON
    forged = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + "1" * 64}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    url = app_server.url + "/slack/events"
    with caplog.at_level(logging.INFO):
        assert httpx.post(url, content=garbage, headers={**headers, **forged}).status_code == 401
        signed = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(SECRET, ts, garbage)}
        assert httpx.post(url, content=garbage, headers={**headers, **signed}).status_code == 400
        not_utf8 = b"payload=\xff\xfe"
        signed_bytes = {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": "v0="
            + __import__("hmac")
            .new(SECRET.encode(), b"v0:" + ts.encode() + b":" + not_utf8, "sha256")
            .hexdigest(),
        }
        assert httpx.post(url, content=not_utf8, headers={**headers, **signed_bytes}).status_code == 400
        as_json = json.dumps([1, 2])
        signed_json = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(SECRET, ts, as_json)}
        response = httpx.post(
            url, content=as_json, headers={"Content-Type": "application/json", **signed_json}
        )
        assert response.status_code == 400
    assert not [r for r in caplog.records if r.exc_info], "a malformed body logged a traceback"


def test_an_ssl_check_key_is_no_way_past_the_admin_check(slack: SlackSender, fake_slack: FakeSlack) -> None:
    body = _command_form(fake_slack.response_url(), user_id="U0OUTSIDER", text="help", ssl_check="0")
    response = slack.post(body)
    assert response.status_code == 200
    assert "not authorised" in response.json()["text"]


def test_a_correctly_signed_but_stale_request_is_refused(slack: SlackSender, fake_slack: FakeSlack) -> None:
    body = _command_form(fake_slack.response_url(), text="help")
    assert slack.post(body, timestamp=int(time.time()) - 6 * 60).status_code == 401
    assert slack.post(body, timestamp=int(time.time()) + 6 * 60).status_code == 401
    assert slack.post(body).status_code == 200
