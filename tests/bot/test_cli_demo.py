"""`rebill-bot demo` needs no Slack credentials and produces real invoices."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pypdf import PdfReader

from tests.conftest import REPO
from tests.harness.cli import CLI, clean_env


def test_demo_builds_a_book_and_writes_invoices(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "demo", "--dir", str(tmp_path / "demo"), "--customers", "6"],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "Bill run for" in result.stdout
        and "invoices for" in result.stdout
        and "[Send all (6)]" in result.stdout
    )
    pdfs = sorted((tmp_path / "demo" / "invoices").glob("*.pdf"))
    assert len(pdfs) == 6 and len(list((tmp_path / "demo" / "invoices").glob("*.html"))) == 6
    first = PdfReader(pdfs[0]).pages[0].extract_text()
    assert "ACME-01001" in first and "DRAFT" in first and "Tax invoice" not in first  # bill runs make drafts
    thread = result.stdout.split("(in the thread)", 1)[1]
    assert all(pdf.stem in thread for pdf in pdfs)  # the whole first thread message, every invoice in it
    html = (tmp_path / "demo" / "invoices" / "ACME-01001.html").read_text()
    assert html.lower().count("quote") == 1
    again = subprocess.run(
        [*CLI, "demo", "--dir", str(tmp_path / "demo")],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 2 and "exists" in again.stderr


def test_the_demo_folder_is_git_ignored() -> None:
    from bot.cli.demo import demo

    folder = next(p.default for p in demo.params if p.name == "folder")
    ignored = (REPO / ".gitignore").read_text().splitlines()
    assert f"{folder}/" in ignored or f"/{folder}/" in ignored
