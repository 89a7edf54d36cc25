"""CSV exports are safe in a spreadsheet; imports read them back exactly and erase nothing unmentioned
(issue 10, items 7 and 11)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.cli import main
from core.billrun import run_bill
from core.calculation import Period
from core.clock import DEFAULT_TIMEZONE
from core.csv_cells import neutralise, restore
from core.customer_csv import export, import_csv, summary_lines
from core.db import session_scope
from models.customers import EndCustomer
from tests import factories
from tests.harness.clock import FixedClock

FORMULAS = ['=HYPERLINK("http://x.example","y")', "+1+1", "-2+3", "@SUM(A1)", "'=kept quote"]


def test_neutralise_and_restore_round_trip() -> None:
    for text in [*FORMULAS, "\tTab", "\rCR", "plain", "'quoted", "", "-10.00", "+5", "12"]:
        assert restore(neutralise(text)) == text
    assert neutralise("=1+1") == "'=1+1" and neutralise("\tx") == "'\tx"
    assert neutralise("-10.00") == "-10.00"  # an amount stays a number
    assert restore("'=typed by hand") == "=typed by hand" and restore("'apostrophe") == "'apostrophe"


def customers(engine: Engine) -> dict[str, EndCustomer]:
    with Session(engine) as db:
        return {c.company_name: c for c in db.exec(select(EndCustomer)).all()}


def test_customer_export_is_neutralised_and_the_import_round_trip_is_lossless(engine: Engine) -> None:
    factories.configure(engine)
    names = ["=HYPERLINK(1)", "+Plus Co", "-Minus Co", "@At Co", "'=Quoted Co"]
    for name in names:
        factories.customer(engine, name, city="=cmd|' /C calc'!A0")
    out = io.StringIO()
    with session_scope(engine) as db:
        export(db, out)
    cells = [cell for row in csv.reader(io.StringIO(out.getvalue())) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "a formula cell was exported"
    before = customers(engine)
    with session_scope(engine) as db:
        report = import_csv(db, io.StringIO(out.getvalue()), actor="U0ADMIN", clock=FixedClock())
    assert report.ok and len(report.unchanged) == len(names) and not report.created
    after = customers(engine)
    assert sorted(after) == sorted(names)
    assert {n: c.city for n, c in after.items()} == {n: c.city for n, c in before.items()}


def test_accounting_export_is_neutralised(engine: Engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    factories.configure(engine)
    factories.monthly_charge(engine, factories.customer(engine, "=Evil()").id, "@SUM(1)")
    run_bill(engine=engine, period=Period.parse("2026-12"), actor="U0ADMIN", clock=FixedClock())
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "xero.csv"
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        ["invoice", "export", "--csv", str(target), "--include-drafts", "--account-code", "200"],
        env={"DATABASE_URL": url, "REBILL_TIMEZONE": DEFAULT_TIMEZONE},
    )
    assert result.exit_code == 0, result.output
    cells = [cell for row in csv.reader(target.open(encoding="utf-8")) for cell in row]
    assert "'=Evil()" in cells
    assert [c for c in cells if c.startswith("'@SUM(1)")]
    assert not [c for c in cells if c[:1] in ("=", "@")]


def test_an_import_changes_only_the_columns_in_the_file_and_applies_archived(engine: Engine) -> None:
    factories.configure(engine)
    factories.customer(engine, "Acme Plumbing", email="ap@acme.example", city="Sydney", payment_terms_days=14)
    factories.customer(engine, "Bravo Dental", email="ap@bravo.example", city="Perth")
    file = "company_name,city,archived\nAcme Plumbing,Newcastle,\nBravo Dental,,yes\n"
    with session_scope(engine) as db:
        dry = import_csv(db, io.StringIO(file), actor="U0ADMIN", clock=FixedClock(), dry_run=True)
    assert [n for _, n in dry.archived] == ["Bravo Dental"]
    assert "0 would be created, 2 would be updated, 0 unchanged." in list(summary_lines(dry, dry_run=True))
    assert "1 would be archived, 0 would be restored." in list(summary_lines(dry, dry_run=True))
    assert customers(engine)["Bravo Dental"].archived_at is None  # a dry run writes nothing

    with session_scope(engine) as db:
        report = import_csv(db, io.StringIO(file), actor="U0ADMIN", clock=FixedClock())
    assert report.ok
    acme, bravo = customers(engine)["Acme Plumbing"], customers(engine)["Bravo Dental"]
    # No email/terms columns: untouched. A present column's empty cell clears it (Bravo's city).
    assert (acme.email, acme.payment_terms_days, acme.city) == ("ap@acme.example", 14, "Newcastle")
    assert (bravo.email, bravo.city) == ("ap@bravo.example", None)
    assert bravo.archived_at is not None

    # Exported archived rows come back to the same customer; "no" restores it.
    with session_scope(engine) as db:
        again = import_csv(
            db, io.StringIO("company_name,archived\nBravo Dental,no\n"), actor="U0ADMIN", clock=FixedClock()
        )
    assert [n for _, n in again.restored] == ["Bravo Dental"] and not again.created
    assert customers(engine)["Bravo Dental"].archived_at is None
    with session_scope(engine) as db:
        bad = import_csv(
            db,
            io.StringIO("company_name,archived\nBravo Dental,maybe\n"),
            actor="U0ADMIN",
            clock=FixedClock(),
        )
    assert bad.rejected == [(2, "archived: use yes or no")]
