"""The layers hold: bot > handlers > core > integrations | models, no import circles, no Slack below
handlers. `lint-imports` checks the contracts in pyproject.toml ([tool.importlinter]); these tests
run it, so CI fails on a breach, and show on a copy of the code that a breach does fail it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "core", "integrations", "models")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` from this environment, on the packages found first in `cwd`."""
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [shutil.which("lint-imports") or "lint-imports"]
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [*command, "--no-cache", "--no-logo"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_layers_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The packages and pyproject.toml, where a test may break them."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_an_upward_import_breaks_the_layers(copy: Path) -> None:
    (copy / "core" / "upward.py").write_text(
        '"""Business logic reaching up into the app."""\n\nimport bot.jobs\n'
    )
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "core is not allowed to import bot" in result.stdout
    assert "core.upward -> bot.jobs" in result.stdout


def test_an_import_circle_is_refused(copy: Path) -> None:
    (copy / "handlers" / "circle_a.py").write_text("from handlers import circle_b\n")
    (copy / "handlers" / "circle_b.py").write_text("from handlers import circle_a\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "No cycles are allowed in handlers" in result.stdout
    assert ".circle_a -> .circle_b" in result.stdout or ".circle_b -> .circle_a" in result.stdout


def test_slack_below_handlers_is_refused(copy: Path) -> None:
    (copy / "core" / "chatty.py").write_text("import slack_sdk\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "core.chatty -> slack_sdk" in result.stdout
