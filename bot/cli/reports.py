"""`rebill-bot report margins`: internal reports, printed, as JSON or as CSV (never sent to customers)."""

from __future__ import annotations

import json
import sys

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.params import PERIOD
from core import margin_csv, margins
from core.calculation import Period
from core.db import session_scope


@click.group("report")
def report_group() -> None:
    """Internal reports (never sent to customers)."""


@report_group.command("margins")
@click.option("--period", required=True, type=PERIOD, help="Invoice month, e.g. 2026-12.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
@pass_cli
def report_margins(cli: CliContext, period: Period, as_json: bool, as_csv: bool) -> None:
    """Revenue, cost, margin and margin % (on cost) per customer and service for PERIOD's invoices."""
    if as_csv:
        with session_scope(cli.engine) as db:
            margin_csv.write(db, sys.stdout, period=period)
        return
    with session_scope(cli.engine) as db:
        found = margins.rows(db, period=period)
        low = {(r.customer_id, r.service_id) for r in margins.below_floor(db, period=period)}
    data = [r.as_dict() | {"below_floor": (r.customer_id, r.service_id) in low} for r in found]
    total = margins.totals(found)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "period": str(period),
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
    click.echo(f"Margins for {period} (margin % on cost)")
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


def register(main: click.Group) -> None:
    main.add_command(report_group)
