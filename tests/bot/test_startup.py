"""`serve` as a new user first runs it: credentials checked with auth.test before anything starts,
one line per component, and `check` answering in seconds when a service does not."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dotenv import dotenv_values

from bot.settings import PLACEHOLDERS
from tests.conftest import REPO
from tests.harness.cli import CLI, app_env, clean_env
from tests.harness.fake_slack import FakeSlack


def serve_until_listening(env: dict[str, str], cwd: Path, *extra: str) -> tuple[int | None, list[str]]:
    """Start `serve`; return (exit code or None if it got to listening, every line it printed)."""
    process = subprocess.Popen(
        [*CLI, "serve", "--port", "0", "--host", "127.0.0.1", *extra],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "listening on http://" in line:
                return None, lines
        return process.wait(timeout=60), lines
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def test_env_example_copied_unedited_stops_serve_naming_each_placeholder(tmp_path: Path) -> None:
    example = dotenv_values(REPO / ".env.example")
    assert {name: example[name] for name in PLACEHOLDERS} == PLACEHOLDERS  # the file and the code agree
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    code, lines = serve_until_listening(clean_env(), tmp_path)
    output = "\n".join(lines)
    assert code == 2, output
    for name in PLACEHOLDERS:
        assert f"{name} is still the example value from .env.example" in output
    assert "Traceback" not in output and "xoxb-your-bot-token" not in output


def test_serve_exits_naming_the_token_slack_refuses(tmp_path: Path, fake_slack: FakeSlack) -> None:
    env = app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}") | {"SLACK_BOT_TOKEN": "xoxb-revoked"}
    code, lines = serve_until_listening(env, tmp_path, "--no-scheduler")
    output = "\n".join(lines)
    assert code == 2, output
    assert "Slack refused SLACK_BOT_TOKEN (auth.test failed: invalid_auth)" in output
    assert len(fake_slack.calls_to("auth.test")) == 1
    assert "xoxb-revoked" not in output and "Traceback" not in output
    assert not (tmp_path / "r.db").exists()  # stopped before touching the database


def test_serve_says_one_line_per_component(tmp_path: Path, fake_slack: FakeSlack) -> None:
    code, lines = serve_until_listening(app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}"), tmp_path)
    assert code is None, lines
    output = "\n".join(lines)
    assert f"database: sqlite:///{tmp_path / 'r.db'} at revision" in output
    assert "(migrated from empty)" in output
    assert "slack: bot rebill in team Acme MSP" in output
    assert any(line.startswith("scheduler: ") and " jobs " in line for line in lines)
    assert lines[-1].startswith("rebill-bot listening on http://127.0.0.1:")
    for chatter in ("alembic", "apscheduler", "will be unused", "Started server process", "Adding job"):
        assert chatter not in output
    assert len(lines) <= 6, output


@contextmanager
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections (the kernel does, from the backlog) and never answers: a hung service."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_serve_starts_with_a_warning_when_slack_is_unreachable(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with closed_port() as port:
        env = app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}")
        env["SLACK_API_URL"] = f"http://127.0.0.1:{port}/api/"
        code, lines = serve_until_listening(env, tmp_path, "--no-scheduler")
    output = "\n".join(lines)
    assert code is None, output
    assert (
        f"slack: WARNING: not reachable, starting anyway (cannot reach http://127.0.0.1:{port}/api/" in output
    )
    assert "Traceback" not in output


def test_check_gives_up_on_a_silent_slack_in_seconds(tmp_path: Path, fake_slack: FakeSlack) -> None:
    """The subprocess timeout is the bound: one try of at most CHECK_TIMEOUT (5 s), not 10 s x 3."""
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    subprocess.run([*CLI, "db", "upgrade"], env=clean_env(DATABASE_URL=db_url), cwd=tmp_path, check=True)
    with silent_server() as port:
        env = app_env(fake_slack, db_url) | {"SLACK_API_URL": f"http://127.0.0.1:{port}/api/"}
        result = subprocess.run(
            [*CLI, "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=25
        )
    assert result.returncode == 1
    assert f"✗ slack: cannot reach http://127.0.0.1:{port}/api/ (timed out)" in result.stdout
    assert "✓ database" in result.stdout and "Traceback" not in result.stderr


def test_socket_mode_says_when_slack_refuses_the_app_token(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("apps.connections.open", error="invalid_auth")
    env = app_env(fake_slack, f"sqlite:///{tmp_path / 'r.db'}", SLACK_APP_TOKEN="xapp-1-revoked")
    result = subprocess.run(
        [*CLI, "serve", "--no-scheduler"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Slack refused SLACK_APP_TOKEN (apps.connections.open failed: invalid_auth)" in result.stderr
    assert "Traceback" not in result.stderr and "xapp-1-revoked" not in result.stderr + result.stdout
