"""CI and benches leave nothing behind: `.ci/run` removes its virtual environment's folder however it
ends, a bench its SQLite folder; and the linter CI runs is one exact version."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO


def stub(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_ci_run_removes_its_virtual_environment_even_when_it_fails(tmp_path: Path) -> None:
    bin_dir, temp = tmp_path / "bin", tmp_path / "tmp"
    bin_dir.mkdir()
    temp.mkdir()
    # python3 makes the venv folder and a file in it, then fails as a broken install would.
    stub(
        bin_dir, "python3", 'mkdir -p "$3/bin" && touch "$3/bin/activate" && echo "$3" > "$MARK" && exit 3\n'
    )
    stub(bin_dir, "psql", "exit 0\n")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "TMPDIR": str(temp), "MARK": str(tmp_path / "venv-path")}
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result.stderr
    venv = Path((tmp_path / "venv-path").read_text().strip())
    assert venv.is_relative_to(temp) and not venv.exists()
    assert list(temp.iterdir()) == []


def test_a_bench_removes_its_sqlite_folder_when_it_exits(tmp_path: Path) -> None:
    code = "import _common; print(_common.database_url(None))"
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(REPO / "bench")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().removeprefix("sqlite:///")).parent
    assert folder.is_relative_to(tmp_path) and not folder.exists()


def test_the_linter_version_is_pinned_exactly() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    (ruff,) = [spec for spec in extras if spec.startswith("ruff")]
    assert ruff.startswith("ruff==")
