"""`rebill-bot billrun` and `rebill-bot invoice ...`: in-process through click, plus real processes."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy.engine import Engine

from tests.harness.billbook import build_book
from tests.harness.cli import CLI, clean_env


def test_billrun_list_show_pdf_export(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build_book(engine)
    dry = cli("billrun", "--period", "2026-12", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output) | {"warnings": []} == {
        "period": "2026-12",
        "dry_run": True,
        "created": 5,
        "skipped_existing": 0,
        "regenerated": 0,
        "nothing_to_bill": 1,
        "total": "1223.10",
        "invoice_ranges": [],
        "regenerated_numbers": [],
        "warnings": [],
        "credit_notes": 0,
        "held_catch_up": [],
        "held_total": "0.00",
    }
    run = cli("billrun", "--period", "2026-12")
    assert run.exit_code == 0, run.output
    assert "5 invoice(s) created" in run.output and "INV-00001 to INV-00005" in run.output
    assert "total 1223.10" in run.output
    assert json.loads(cli("billrun", "--period", "2026-12", "--json").output)["skipped_existing"] == 5

    listed = json.loads(cli("invoice", "list", "--period", "2026-12", "--json").output)
    assert [r["number"] for r in listed] == [f"INV-0000{n}" for n in range(1, 6)]
    assert listed[1]["total"] == "281.00" and isinstance(listed[1]["total"], str)
    assert json.loads(cli("invoice", "list", "--status", "paid", "--json").output) == []
    assert "5 invoice(s)" in cli("invoice", "list").output

    shown = json.loads(cli("invoice", "show", "INV-00002", "--json").output)
    assert (shown["subtotal"], shown["tax"], shown["total"], shown["due_date"], shown["status"]) == (
        "260.00",
        "21.00",
        "281.00",
        "2026-12-15",
        "draft",
    )
    assert [line["amount"] for line in shown["lines"]] == ["210.00", "50.00"]
    assert "subtotal 260.00  GST 21.00  total 281.00 AUD" in cli("invoice", "show", "inv-00002").output

    pdf = tmp_path / "inv.pdf"
    assert cli("invoice", "pdf", "INV-00002", "-o", str(pdf)).exit_code == 0
    assert "INV-00002" in PdfReader(pdf).pages[0].extract_text()

    out = tmp_path / "xero.csv"
    refused = cli("invoice", "export", "--csv", str(out))
    assert refused.exit_code == 1 and "No Xero account code is set" in refused.output and not out.exists()
    assert cli("invoice", "export", "--csv", str(out), "--account-code", "200").exit_code == 0
    assert out.read_text().count("\n") == 1  # drafts left out by default
    exported = cli("invoice", "export", "--csv", str(out), "--include-drafts", "--account-code", "200")
    assert exported.exit_code == 0 and "exported 7 line(s)" in exported.output
    rows = list(csv.DictReader(out.open()))
    bravo = [r for r in rows if r["*InvoiceNumber"] == "INV-00002"]
    assert [(r["*Quantity"], r["*UnitAmount"], r["*TaxType"], r["TaxAmount"]) for r in bravo] == [
        ("1", "210.00", "GST on Income", "21.00"),  # pro-rata: 1 x the amount, so Xero's total matches
        ("1", "50.00", "GST Free Income", "0.00"),
    ]
    assert (
        bravo[0]["*InvoiceDate"],
        bravo[0]["*DueDate"],
        bravo[0]["*AccountCode"],
        bravo[0]["Currency"],
    ) == (
        "01/12/2026",
        "15/12/2026",
        "200",
        "AUD",
    )
    delta = next(r for r in rows if r["*InvoiceNumber"] == "INV-00004")
    assert (delta["*ContactName"], delta["EmailAddress"], delta["*Quantity"], delta["*UnitAmount"]) == (
        "Delta Plumbing",
        "ap@delta.example",
        "3",
        "45.50",
    )


def test_errors_are_one_line_and_exit_1(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    unconfigured = cli("billrun", "--period", "2026-12")
    assert unconfigured.exit_code == 1 and "Billing isn't set up yet" in unconfigured.output
    missing = cli("invoice", "show", "INV-404")
    assert missing.exit_code == 1 and "There is no invoice INV-404." in missing.output
    assert missing.exception is None or isinstance(missing.exception, SystemExit)
    bad = cli("billrun", "--period", "December")
    assert bad.exit_code == 2 and "a billing period looks like 2026-12" in bad.output


def test_two_billrun_processes_at_once_and_an_unmigrated_database(tmp_path: Path) -> None:
    from core.db import make_engine

    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}")
    fresh = subprocess.run(
        [*CLI, "invoice", "list"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert fresh.returncode == 1 and "db upgrade" in fresh.stderr and "Traceback" not in fresh.stderr
    assert (
        subprocess.run(
            [*CLI, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, timeout=60
        ).returncode
        == 0
    )
    engine = make_engine(env["DATABASE_URL"])
    build_book(engine)
    engine.dispose()
    runs = [
        subprocess.Popen(
            [*CLI, "billrun", "--period", "2026-12", "--json", "--batch-size", "1"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [json.loads(p.communicate(timeout=120)[0]) for p in runs]
    assert sorted(o["created"] for o in outputs) in ([0, 5], [1, 4], [2, 3])
    assert sum(o["created"] for o in outputs) == 5 and sum(o["skipped_existing"] for o in outputs) == 5
    listed = json.loads(
        subprocess.run(
            [*CLI, "invoice", "list", "--json"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    assert [r["number"] for r in listed] == [f"INV-0000{n}" for n in range(1, 6)]


def test_close_runs_the_month_close_and_show_json_has_changes(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    build_book(engine)
    nov = cli("close", "--period", "2026-11", "--json")
    assert nov.exit_code == 0, nov.output
    closed = cli("close", "--period", "2026-12")
    assert closed.exit_code == 0, closed.output
    assert closed.output.startswith("Month close 2026-12: 5 invoice(s), total 1201.15\n  bill run: 5 created")
    assert "⚠ total up 67% since 2026-11 ($132.00 → $220.00)" in closed.output  # exceptions listed
    again = json.loads(cli("close", "--period", "2026-12", "--json").output)
    assert again["run_by"].startswith("cli:") and sum(again["counts"].values()) == 5
    assert {i["state"] for i in again["invoices"]} <= {"awaiting_approval", "no_email"}  # nothing sent
    grown = next(i["number"] for i in again["invoices"] if "total_changed" in i["exceptions"])
    shown = json.loads(cli("invoice", "show", grown, "--json").output)
    assert shown["period"] == "2026-12" and shown["changes"]["previous_period"] == "2026-11"
    assert set(shown["changes"]) == {"previous_number", "previous_period", "delta", "lines"}
    assert shown["changes"]["delta"] != "0.00" and all(line["reason"] for line in shown["changes"]["lines"])
    assert shown["changes"]["lines"], shown["changes"]
    sent = cli("close", "--period", "2026-12", "--send")
    assert sent.exit_code == 2 and "SMTP is not configured" in sent.output
    assert cli("close", "--period", "December").exit_code == 2
