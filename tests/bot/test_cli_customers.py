"""`rebill-bot customers ...` as a script would run it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.harness.cli import (
    clean_env,
    run,
)


def test_import_list_export(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}")
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    good = tmp_path / "good.csv"
    good.write_text("company_name,email\nAcme,ap@acme.example\nNo Mail Co,\n")
    dry = run(["customers", "import", "--csv", str(good), "--dry-run"], env, tmp_path)
    assert dry.returncode == 0 and "2 would be created" in dry.stdout
    assert json.loads(run(["customers", "list", "--json"], env, tmp_path).stdout) == []

    assert "2 were created" in run(["customers", "import", "--csv", str(good)], env, tmp_path).stdout
    listed = json.loads(run(["customers", "list", "--json"], env, tmp_path).stdout)
    assert [c["company_name"] for c in listed] == ["Acme", "No Mail Co"]
    assert "⚠ no e-mail" in run(["customers", "list"], env, tmp_path).stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("company_name,email\nNew Co,ok@new.example\n,missing@name.example\n")
    result = run(["customers", "import", "--csv", str(bad)], env, tmp_path)
    assert (
        result.returncode == 1 and "row 3: company_name" in result.stderr and "Traceback" not in result.stderr
    )
    assert len(json.loads(run(["customers", "list", "--json"], env, tmp_path).stdout)) == 2

    out = tmp_path / "out.csv"
    assert run(["customers", "export", "--csv", str(out)], env, tmp_path).returncode == 0
    assert out.read_text().splitlines()[1].startswith("Acme,ap@acme.example")
