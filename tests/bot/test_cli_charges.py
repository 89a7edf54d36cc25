"""`rebill-bot charges ...`: the same validation as Slack, JSON money as strings."""

from __future__ import annotations

import json
from pathlib import Path

from core.clock import DEFAULT_TIMEZONE
from tests.harness.cli import clean_env, run


def test_add_list_preview(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}", REBILL_TIMEZONE=DEFAULT_TIMEZONE)
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    (tmp_path / "c.csv").write_text("company_name,email\nAcme,ap@acme.example\n")
    assert run(["customers", "import", "--csv", str(tmp_path / "c.csv")], env, tmp_path).returncode == 0

    bad = run(
        ["charges", "add", "Acme", "--description", "Seats", "--unit-price", "1e5", "--quantity", "-3"],
        env,
        tmp_path,
    )
    assert bad.returncode == 1
    assert "--unit-price:" in bad.stderr and "--quantity:" in bad.stderr and "Traceback" not in bad.stderr

    ok = run(
        [
            "charges",
            "add",
            "acme",
            "--description",
            "M365 seats",
            "--unit-price",
            "$1,234.50",
            "--quantity",
            "2",
            "--from",
            "2026-12-17",
            "--json",
        ],
        env,
        tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["kind"] == "recurring charge"
    assert (
        run(
            [
                "charges",
                "add",
                "Acme",
                "--once-off",
                "--description",
                "Visit",
                "--unit-price",
                "99.95",
                "--from",
                "2026-12-02",
                "--gst-free",
            ],
            env,
            tmp_path,
        ).returncode
        == 0
    )

    listed = json.loads(run(["charges", "list", "Acme", "--json"], env, tmp_path).stdout)
    assert listed["recurring_charges"][0]["unit_price"] == "1234.5000"
    assert listed["once_off_items"][0]["status"] == "not yet invoiced"

    preview = json.loads(
        run(["charges", "preview", "Acme", "--period", "2026-12", "--json"], env, tmp_path).stdout
    )
    # 2,469.00 a month; from 17 Dec: R(2469 x 31/31) - R(2469 x 16/31 = 1274.32...) = 2469.00 - 1274.32 = 1194.68.
    assert [line["amount"] for line in preview["lines"]] == ["1194.68", "99.95"]
    assert preview["subtotal"] == "1294.63" and preview["tax"] == "119.47" and preview["total"] == "1414.10"
    assert "nobody" in run(["charges", "list", "nobody"], env, tmp_path).stderr
