"""`rebill-bot usage import|licences`, `report margins`, and cost through `charges` and `invoice export`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.harness.usage_book import HEADER, build


def test_usage_import_dry_run_then_real_then_again(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build(engine)
    path = tmp_path / "usage.csv"
    path.write_text(HEADER + "K1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\n")
    dry = cli("usage", "import", "--csv", str(path), "--dry-run")
    assert dry.exit_code == 0 and "1 would be added" in dry.output
    real = cli("usage", "import", "--csv", str(path))
    assert real.exit_code == 0 and "1 added" in real.output
    again = cli("usage", "import", "--csv", str(path))
    assert again.exit_code == 0 and "0 added, 1 already imported" in again.output


def test_usage_import_bad_rows_exit_1_naming_every_row(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build(engine)
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "K1,Nobody,,,,2026-11-03,Calls,10,0.10,,\nK2,Alpha Dental,,,,,Calls,1,0.10,,\n")
    result = cli("usage", "import", "--csv", str(path))
    assert result.exit_code == 1
    assert "row 2: no customer with customer 'Nobody'" in result.output
    assert "row 3: no date or period" in result.output
    assert "Nothing imported: 2 bad row(s)" in result.output


def test_usage_import_with_a_shipped_map_and_a_bad_map(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build(engine)
    path = tmp_path / "cdr.csv"
    path.write_text(
        "Charge ID;Service Number;Call Date;Call Type;Duration (min);Wholesale ex GST;Tax Code\n"
        "9001;0298765432;03/11/2026;National call;4.5;0.02;GST\n"
    )
    assert "1 added" in cli("usage", "import", "--csv", str(path), "--map", "telco_cdr").output
    mapping = tmp_path / "bad.toml"
    mapping.write_text("[columns]\nusage_id = 'x'\n")
    result = cli("usage", "import", "--csv", str(path), "--map", str(mapping))
    assert result.exit_code == 1 and "no column (or default) for quantity" in result.output
    missing = cli("usage", "import", "--csv", str(path), "--map", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 1 and "Can't read the mapping" in missing.output


def test_licence_counts_import(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build(engine)
    path = tmp_path / "counts.csv"
    path.write_text("feed,date,quantity\nm365,2026-11-20,12\n")
    assert "1 count(s) written" in cli("usage", "licences", "--csv", str(path)).output
    path.write_text("feed,date,quantity\nm365,2026-11-20,twelve\n")
    bad = cli("usage", "licences", "--csv", str(path))
    assert bad.exit_code == 1 and "row 2" in bad.output


def test_charges_add_with_cost_and_preview_shows_it(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    build(engine)
    added = cli("charges", "add", "Bravo Legal", "--description", "Backup", "--unit-cost", "10", "--json")
    assert added.exit_code == 0, added.output
    listed = json.loads(cli("charges", "list", "Bravo Legal", "--json").output)
    assert [(c["unit_price"], c["unit_cost"]) for c in listed["recurring_charges"]] == [
        ("12.5000", "10.0000")
    ]
    preview = json.loads(cli("charges", "preview", "Bravo Legal", "--period", "2026-12", "--json").output)
    assert preview["lines"][0]["cost"] == "10.00" and preview["cost"] == "10.00"
    refused = cli("charges", "add", "Bravo Legal", "--description", "Backup")
    assert refused.exit_code == 1 and "--unit-price: Enter an amount" in refused.output


def test_report_margins_text_json_csv_and_export_without_cost(cli, engine: Engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    build(engine, floor="30")
    assert cli("billrun", "--period", "2026-12").exit_code == 0
    data = json.loads(cli("report", "margins", "--period", "2026-12", "--json").output)
    assert data["rows"] == [
        {
            "customer_id": data["rows"][0]["customer_id"],
            "customer": "Alpha Dental",
            "service_id": None,
            "service": "(no service)",
            "revenue": "16.97",
            "cost": "13.58",
            "margin": "3.39",
            "margin_percent": "24.96",
            "uncosted_revenue": "0.00",
            "below_floor": True,
        }
    ]
    assert data["total"]["margin"] == "3.39"
    rows = list(csv.reader(io.StringIO(cli("report", "margins", "--period", "2026-12", "--csv").output)))
    assert rows[0][-1] == "below_floor" and rows[1][1] == "Alpha Dental" and rows[1][-1] == "yes"
    text = cli("report", "margins", "--period", "2026-12").output
    assert "⚠ below floor" in text and "total: revenue 16.97  cost 13.58  margin 3.39 (24.96%)" in text
    assert cli("report", "margins", "--period", "December").exit_code != 0
    out = tmp_path / "xero.csv"
    assert (
        cli("invoice", "export", "--csv", str(out), "--include-drafts", "--account-code", "200").exit_code
        == 0
    )
    exported = out.read_text()
    assert "16.97" in exported and "13.58" not in exported and "13.5791" not in exported
