"""The in-process `cli` fixture the CLI tests share (registered in tests/bot/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from bot.cli import main
from core.clock import DEFAULT_TIMEZONE


@pytest.fixture
def cli(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Invoke the CLI against the test database (both SQLite and PostgreSQL)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    url = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, list(args), env={"DATABASE_URL": url, "REBILL_TIMEZONE": DEFAULT_TIMEZONE})

    return invoke
