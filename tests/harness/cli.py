"""Running the CLI in tests: the command line, a clean environment, an app's environment, one in-process call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ADMIN, BOT_TOKEN, SIGNING_SECRET
from tests.harness.fake_slack import FakeSlack

CLI = [sys.executable, "-m", "bot"]


def clean_env(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}}
    return {**keep, **values}


def app_env(fake_slack: FakeSlack, db_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        DATABASE_URL=db_url,
        REBILL_ADMINS=ADMIN,
        **extra,
    )


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
