"""`rebill-bot usage ...` (supplier usage and licence counts) and `rebill-bot report margins`.

Thin: open the file, call `core.usage_import` / `core.licence_feed` / `core.margins`, print. Every
bad row is printed to stderr as it is found (the file is streamed, so there may be many), then a
summary; exit status 1 when nothing was imported because of them.
"""

from __future__ import annotations

import csv
import json
import sys
from decimal import Decimal
from pathlib import Path

import click

from bot.cli import _actor, _engine, main
from bot.cli_invoices import _friendly_errors, _period


@main.group("usage")
def usage_group() -> None:
    """Import supplier usage files and licence counts."""


@usage_group.command("import")
@click.option(
    "--csv", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to read."
)
@click.option("--map", "mapping", help="TOML column mapping (a file, or a shipped one: standard, telco_cdr).")
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
def usage_import(path: Path, mapping: str | None, dry_run: bool) -> None:
    """Import usage from a supplier's CSV: all rows or none; rows already imported are skipped."""
    from core.clock import clock_from_env
    from core.db import session_scope
    from core.usage_import import import_usage, load_mapping, summary_lines

    with _friendly_errors():
        chosen = load_mapping(mapping)
        with (
            session_scope(_engine()) as db,
            path.open(newline="", encoding=chosen.encoding) as source,
        ):
            report = import_usage(
                db,
                source,
                mapping=chosen,
                actor=_actor(),
                clock=clock_from_env(),
                dry_run=dry_run,
                file_name=path.name,
                on_error=lambda message: click.echo(message, err=True),
            )
    lines = list(summary_lines(report))
    if report.ok:
        for line in lines:
            click.echo(line)
    else:
        click.echo(lines[0], err=True)  # the rows themselves were printed as they were found
    sys.exit(0 if report.ok else 1)


@usage_group.command("licences")
@click.option(
    "--csv",
    "path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="feed,date,quantity rows.",
)
@click.option("--dry-run", is_flag=True, help="Check and report; write nothing.")
def usage_licences(path: Path, dry_run: bool) -> None:
    """Import licence counts (columns feed,date,quantity) that charges' quantities follow."""
    from core.clock import clock_from_env
    from core.db import session_scope
    from core.licence_feed import import_counts

    with (
        _friendly_errors(),
        session_scope(_engine()) as db,
        path.open(newline="", encoding="utf-8-sig") as source,
    ):
        report = import_counts(db, source, actor=_actor(), clock=clock_from_env(), dry_run=dry_run)
    if not report.ok:
        click.echo(f"Nothing imported: {len(report.errors or [])} bad row(s).", err=True)
        for error in report.errors or []:
            click.echo(error, err=True)
        sys.exit(1)
    click.echo(f"{report.written} count(s) {'would be ' if dry_run else ''}written")


@main.group("report")
def report_group() -> None:
    """Internal reports (never sent to customers)."""


@report_group.command("margins")
@click.option("--period", required=True, help="Invoice month, e.g. 2026-12.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
def report_margins(period: str, as_json: bool, as_csv: bool) -> None:
    """Revenue, cost, margin and margin % (on cost) per customer and service for PERIOD's invoices."""
    from core import margins
    from core.db import session_scope

    chosen = _period(period)
    with _friendly_errors(), session_scope(_engine()) as db:
        found = margins.rows(db, period=chosen)
        low = {(r.customer_id, r.service_id) for r in margins.below_floor(db, period=chosen)}
    data = [r.as_dict() | {"below_floor": (r.customer_id, r.service_id) in low} for r in found]
    total = margins.totals(found)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "period": str(chosen),
                    "rows": data,
                    "total": {
                        "revenue": f"{total.revenue:.2f}",
                        "cost": f"{total.cost:.2f}",
                        "margin": f"{total.margin:.2f}",
                        "margin_percent": None
                        if total.margin_percent is None
                        else f"{total.margin_percent:.2f}",
                    },
                },
                indent=2,
            )
        )
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow([*margins.COLUMNS, "below_floor"])
        for row in data:
            writer.writerow([_cell(row[c]) for c in margins.COLUMNS] + ["yes" if row["below_floor"] else ""])
        return
    click.echo(f"Margins for {chosen} (margin % on cost)")
    for row in data:
        pct = "n/a" if row["margin_percent"] is None else f"{row['margin_percent']}%"
        flag = "  ⚠ below floor" if row["below_floor"] else ""
        click.echo(
            f"  {row['customer']} / {row['service']}: revenue {row['revenue']}  cost {row['cost']}  "
            f"margin {row['margin']} ({pct}){flag}"
        )
    pct = "n/a" if total.margin_percent is None else f"{total.margin_percent:.2f}%"
    click.echo(
        f"  total: revenue {total.revenue:.2f}  cost {total.cost:.2f}  margin {total.margin:.2f} ({pct})"
    )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not _numeric(text)) else text


def _numeric(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True
