"""`rebill-bot invoice send NUMBER [--resend]`: in-process through click, and as two real processes
racing for the same invoice (one e-mail reaches the local SMTP server)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from bot.cli import main
from core.clock import DEFAULT_TIMEZONE
from tests.harness.cli import CLI, clean_env
from tests.harness.delivery import bill, light_templates
from tests.harness.smtp import SmtpServer, free_port

Invoke = Callable[..., Result]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def mail_env(port: int) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": "5",
        "REBILL_FROM_EMAIL": "billing@msp.example",
        "REBILL_TEMPLATES_DIR": str(light_templates()),
        "REBILL_TIMEZONE": DEFAULT_TIMEZONE,
    }


@pytest.fixture
def cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)  # no stray .env
    url = engine.url.render_as_string(hide_password=False)

    def invoke(*args: str, env: dict[str, str | None]) -> Result:
        return CliRunner().invoke(main, list(args), env={"DATABASE_URL": url, "SMTP_HOST": None, **env})

    return invoke


def test_send_then_already_sent_then_resend(cli: Invoke, engine: Engine, smtp: SmtpServer) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    env = mail_env(smtp.port)
    first = cli("invoice", "send", "inv-00001", env=env)
    assert (first.exit_code, first.output) == (
        0,
        "INV-00001 sent to ap@alpha.example (approved first: it was a draft).\n",
    )
    again = cli("invoice", "send", "INV-00001", env=env)
    assert again.exit_code == 0 and "INV-00001 was already sent to ap@alpha.example on " in again.output
    resent = cli("invoice", "send", "INV-00001", "--resend", env=env)
    assert (resent.exit_code, resent.output) == (0, "INV-00001 re-sent to ap@alpha.example.\n")
    assert len(smtp.received) == 2


def test_failures_are_one_clear_line(cli: Invoke, engine: Engine, smtp: SmtpServer) -> None:
    bill(engine, ("Alpha Dental", "ap@alpha.example"), ("No Mail Co", None))

    unset = cli("invoice", "send", "INV-00001", env={})
    assert unset.exit_code == 2
    assert unset.output == "SMTP is not configured: set SMTP_HOST and REBILL_FROM_EMAIL (see README.md).\n"

    no_from = cli("invoice", "send", "INV-00001", env={"SMTP_HOST": "127.0.0.1"})
    assert no_from.exit_code == 2 and "REBILL_FROM_EMAIL must be set when SMTP_HOST is set" in no_from.output

    down = cli("invoice", "send", "INV-00001", env=mail_env(free_port()))
    assert down.exit_code == 1
    assert down.output.startswith("INV-00001 was not sent: Can't reach the mail server 127.0.0.1:")
    assert down.output.endswith("This is usually temporary: try again later.\n")

    no_mail = cli("invoice", "send", "INV-00002", env=mail_env(smtp.port))
    assert (no_mail.exit_code, no_mail.output) == (
        1,
        "No Mail Co has no e-mail address, so INV-00002 can't be sent: add one to the customer first.\n",
    )
    missing = cli("invoice", "send", "INV-00042", env=mail_env(smtp.port))
    assert (missing.exit_code, missing.output) == (1, "There is no invoice INV-00042.\n")
    for result in (unset, no_from, down, no_mail, missing):
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
    assert smtp.received == []


def test_two_processes_send_once(engine: Engine, smtp: SmtpServer, tmp_path: Path) -> None:
    """Two `rebill-bot invoice send` processes started together: exactly one e-mail."""
    bill(engine, ("Alpha Dental", "ap@alpha.example"))
    env = clean_env(DATABASE_URL=engine.url.render_as_string(hide_password=False), **mail_env(smtp.port))
    processes = [
        subprocess.Popen(
            [*CLI, "invoice", "send", "INV-00001"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    streams = [p.communicate(timeout=60) for p in processes]
    outputs = [(p.returncode, out, err) for p, (out, err) in zip(processes, streams, strict=True)]
    assert len(smtp.received) == 1, outputs
    said = sorted(out + err for _, out, err in outputs)
    assert sum("sent to ap@alpha.example (approved first" in text for text in said) == 1, said
    for code, out, err in outputs:
        assert "Traceback" not in err
        # the loser saw the winner's claim (exit 1: not sent by it) or its finished send (exit 0)
        assert code == 0 or "is already being sent" in err, (code, out, err)
