"""The command line never talks as if its user were in Slack: a hint naming `/rebill ...` says "in
Slack" and gives the `rebill-bot` command too."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.harness.cli import CLI, app_env, clean_env, run
from tests.harness.fake_slack import FakeSlack


def slack_hints_are_labelled(text: str) -> bool:
    return all("in Slack" in line for line in text.splitlines() if re.search(r"`/rebill\b", line))


def test_hints_from_the_cli_name_the_cli_command(tmp_path: Path, fake_slack: FakeSlack) -> None:
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    env = clean_env(DATABASE_URL=db_url)
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0

    unconfigured = run(["billrun", "--period", "2026-12", "--dry-run"], env, tmp_path)
    assert unconfigured.returncode == 1 and "`rebill-bot settings set`" in unconfigured.stderr
    assert slack_hints_are_labelled(unconfigured.stderr)

    nobody = run(["charges", "list", "Nobody"], env, tmp_path)
    assert nobody.returncode == 1 and "`rebill-bot customers list Nobody`" in nobody.stderr
    assert slack_hints_are_labelled(nobody.stderr)

    settings = ["business_name=Acme", "default_payment_terms_days=14", "invoice_prefix=INV-"]
    assert run(["settings", "set", *settings], env, tmp_path).returncode == 0
    job = subprocess.run(
        [*CLI, "jobs", "run", "overdue_alert"],
        env=app_env(fake_slack, db_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert job.returncode == 0, job.stderr
    assert "rebill-bot settings set alert_channel_id=" in job.stdout + job.stderr
    assert slack_hints_are_labelled(job.stdout + job.stderr)


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = run(["--version"], clean_env(), tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"rebill-bot, version {version('rebill-bot')}"
