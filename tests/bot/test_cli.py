"""The console script as a user runs it: a real process, real HTTP, a fake Slack."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import SIGNING_SECRET
from tests.harness.cli import CLI, app_env, clean_env
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, sign


def test_serve_without_settings_exits_2_naming_each_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "serve"], env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "REBILL_ADMINS"):
        assert name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_malformed_settings_are_named(tmp_path: Path) -> None:
    env = clean_env(
        SLACK_BOT_TOKEN="not-a-token",
        SLACK_SIGNING_SECRET="s",
        REBILL_ADMINS="bob",
        REBILL_TIMEZONE="Mars/Base",
    )
    result = subprocess.run(
        [*CLI, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN must be a bot token" in result.stderr
    assert "REBILL_ADMINS not Slack user or user-group ids: bob" in result.stderr
    assert "REBILL_TIMEZONE" in result.stderr
    assert "not-a-token" not in result.stderr  # secrets are never echoed
    assert "Traceback" not in result.stderr


def test_db_upgrade_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}")
    first = subprocess.run(
        [*CLI, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert "upgraded from empty" in first.stdout
    second = subprocess.run(
        [*CLI, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0
    assert "up to date" in second.stdout


def test_check_reports_each_part(tmp_path: Path, fake_slack: FakeSlack) -> None:
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    subprocess.run(
        [*CLI, "db", "upgrade"], env=clean_env(DATABASE_URL=db_url), cwd=tmp_path, check=True, timeout=60
    )
    ok = subprocess.run(
        [*CLI, "check"],
        env=app_env(fake_slack, db_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "✓ database" in ok.stdout and "✓ slack: auth.test ok" in ok.stdout
    assert "✓ xero: not configured (XERO_CLIENT_ID unset)" in ok.stdout
    bad_env = app_env(fake_slack, db_url) | {"SLACK_BOT_TOKEN": "xoxb-wrong"}
    bad = subprocess.run(
        [*CLI, "check"], env=bad_env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert "✗ slack: auth.test failed: invalid_auth" in bad.stdout


@contextmanager
def served(env: dict[str, str], cwd: Path) -> Iterator[str]:
    process = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--host", "127.0.0.1", "--no-scheduler"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the socket is listening before this line is printed
            found = re.search(r"listening on (http://\S+)/slack/events", line)
            if found:
                yield found.group(1)
                break
        else:
            raise AssertionError("serve exited before listening")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_answers_signed_help_and_refuses_the_rest(tmp_path: Path, fake_slack: FakeSlack) -> None:
    env = app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}")
    with served(env, tmp_path) as base:
        assert httpx.get(base + "/healthz", timeout=10).status_code == 200
        sender = SlackSender(base + "/slack/events", SIGNING_SECRET, response_url=fake_slack.response_url)
        started = time.monotonic()
        response = sender.command("help")
        assert time.monotonic() - started < 3
        assert response.status_code == 200 and "/rebill help" in response.json()["text"]

        body = "command=%2Frebill&text=help&user_id=U0ADMIN"
        assert sender.post(body, signed=False).status_code == 401
        assert sender.post(body, signature="v0=bad").status_code == 401
        stale = int(time.time()) - 360
        assert (
            sender.post(body, timestamp=stale, signature=sign(SIGNING_SECRET, str(stale), body)).status_code
            == 401
        )
        assert "not authorised" in sender.command("help", user_id="U0OTHER").json()["text"]
