"""ACCEPTANCE (slow, about a minute; marked `readme_setup`): README's set-up, word for word.

Steps 1 and 2 of README's "Set-up" run in bash in a copy of the repository, with a new virtual
environment, as a new user would: install, `cp .env.example .env`, `db upgrade`, `settings set`
and `billrun --dry-run` on a fresh database, with no Slack settings at all (the .env still has the
example's placeholders). pip uses its configured index and its cache, as CI's fresh venv does; no
network beyond that. Deselect while working with `-m "not readme_setup"`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.readme_setup


def setup_blocks() -> list[str]:
    section = REPO.joinpath("README.md").read_text().split("\n## Set-up\n", 1)[1].split("\n## ", 1)[0]
    return [textwrap.dedent(block) for block in re.findall(r"```sh\n(.*?)^\s*```", section, re.S | re.M)]


def copy_of_the_repository(target: Path) -> Path:
    """What a clone has: tracked files and new ones not git-ignored (no .venv, no build output)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():  # an unpacked source archive
        ignore = shutil.ignore_patterns(".venv", "__pycache__", "*.egg-info", "build", "*.db", ".env")
        shutil.copytree(REPO, target, ignore=ignore)
        return target
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def new_user_env(tmp_path: Path) -> dict[str, str]:
    """No Slack, no virtual environment active; `python3` is this interpreter's base Python."""
    venv_bin = os.path.dirname(sys.executable)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin]
    base = os.path.dirname(getattr(sys, "_base_executable", sys.executable))
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_") or k in {"HOME", "LANG", "LC_ALL"}}
    return env | {"PATH": os.pathsep.join([base, *path]), "TMPDIR": str(tmp_path)}


def test_readme_set_up_then_settings_and_a_dry_run_without_slack(tmp_path: Path) -> None:
    install, billing, connect = setup_blocks()[:3]
    assert "python3 -m venv .venv" in install and "cp .env.example .env" in install
    assert "rebill-bot settings set" in billing and "rebill-bot billrun" in billing and "--dry-run" in billing
    assert "rebill-bot serve" in connect

    clone = copy_of_the_repository(tmp_path / "clone")
    script = "set -euo pipefail\n" + install + billing
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=clone,
        env=new_user_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert (clone / ".venv" / "bin" / "rebill-bot").exists() and (clone / "rebill.db").exists()
    assert "business_name: (unset) → Acme IT Pty Ltd" in result.stdout
    assert "Bill run for 2026-12 (dry run, nothing written):" in result.stdout
    assert "Traceback" not in output and "SLACK_" not in output
