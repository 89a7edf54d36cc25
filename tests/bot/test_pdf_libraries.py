"""Without Pango (a system library WeasyPrint loads when imported) `check` and `invoice pdf` say
what to install. The missing library is simulated where it really fails: `import weasyprint`
raising the OSError cffi's dlopen raises, from a stand-in package put first on the path."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.harness.cli import CLI, app_env, clean_env
from tests.harness.fake_slack import FakeSlack

DLOPEN_ERROR = (
    "cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file: "
    "No such file or directory.  Additionally, ctypes.util.find_library() did not manage to locate "
    "a library called 'libpango-1.0-0'"
)


def without_pango(tmp_path: Path) -> str:
    package = tmp_path / "no-pango" / "weasyprint"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"print('WeasyPrint banner')\nraise OSError({DLOPEN_ERROR!r})\n")
    return str(package.parent)


def test_invoice_pdf_names_pango_and_the_packages(billed: Engine, tmp_path: Path) -> None:
    env = clean_env(
        DATABASE_URL=billed.url.render_as_string(hide_password=False), PYTHONPATH=without_pango(tmp_path)
    )
    result = subprocess.run(
        [*CLI, "invoice", "pdf", "INV-00001", "-o", str(tmp_path / "i.pdf")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "WeasyPrint needs the Pango text library" in result.stderr and "libpango-1.0-0" in result.stderr
    assert "brew install pango" in result.stderr and "apt install" in result.stderr
    assert "Traceback" not in result.stderr and "banner" not in result.stdout
    assert not (tmp_path / "i.pdf").exists()


def test_check_reports_the_missing_library(tmp_path: Path, fake_slack: FakeSlack) -> None:
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    subprocess.run([*CLI, "db", "upgrade"], env=clean_env(DATABASE_URL=db_url), cwd=tmp_path, check=True)
    env = app_env(fake_slack, db_url, PYTHONPATH=without_pango(tmp_path))
    result = subprocess.run(
        [*CLI, "check"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "✗ pdf: PDF invoices can't be made: WeasyPrint needs the Pango text library" in result.stdout
    assert "✓ slack" in result.stdout and "Traceback" not in result.stderr
