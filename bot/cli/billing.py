"""`rebill-bot billrun` and `rebill-bot close`: a month's bill run and its close from a terminal.

Thin on purpose: parse, call `core.billrun` / `core.month_close`, print. Only the database is
needed (like `db upgrade`), so these work without Slack secrets. Money is printed as strings
("123.45").
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from decimal import Decimal

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.params import PERIOD
from core.billrun import BillRunResult, period_to_bill, run_bill
from core.calculation import Period
from core.db import session_scope
from core.month_close import State, close_month


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


@click.command("billrun")
@click.option(
    "--period", type=PERIOD, help="Month to bill, e.g. 2026-12 (default: the month the next bill run bills)."
)
@click.option("--dry-run", is_flag=True, help="Report what would be invoiced; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@click.option("--regenerate-drafts", is_flag=True, help="Recompute invoices of the period still in draft.")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=200, show_default=True, hidden=True)
@click.option(
    "--include-old-catch-up",
    "include_old",
    is_flag=True,
    help="Also bill unbilled days older than the back-billing horizon (listed as held otherwise).",
)
@pass_cli
def billrun(
    cli: CliContext,
    period: Period | None,
    dry_run: bool,
    as_json: bool,
    regenerate_drafts: bool,
    batch_size: int,
    include_old: bool,
) -> None:
    """Invoice every active customer with something to bill for PERIOD (safe to run again)."""
    if period is None:
        with session_scope(cli.engine, write=False) as db:
            period = period_to_bill(db=db, today=cli.clock.today())

    def run(progress: Callable[[int, int], None] | None) -> BillRunResult:
        return run_bill(
            engine=cli.engine,
            period=period,
            actor=cli.actor,
            clock=cli.clock,
            regenerate_drafts=regenerate_drafts,
            dry_run=dry_run,
            batch_size=batch_size,
            progress=progress,
            include_old_catch_up=include_old,
        )

    if sys.stdout.isatty() and not as_json:
        with click.progressbar(length=1, label=f"Billing {period}") as bar:

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            result = run(progress)
    else:
        result = run(None)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    verb = "would be created" if dry_run else "created"
    click.echo(f"Bill run for {period}{' (dry run, nothing written)' if dry_run else ''}:")
    click.echo(f"  {result.created} invoice(s) {verb}")
    for first, last in result.number_ranges:
        click.echo(f"    {first}" + (f" to {last}" if last != first else ""))
    if result.regenerated:
        click.echo(f"  {result.regenerated} draft(s) {'would be ' if dry_run else ''}regenerated")
    click.echo(f"  {result.skipped_existing} skipped: already invoiced for {period}")
    click.echo(f"  {result.nothing_to_bill} with nothing to bill")
    click.echo(f"  total {_money(result.total)} (incl. GST)")
    if result.credit_notes:
        click.echo(f"  {result.credit_notes} of them credit note(s): credits exceeded charges")
    if result.held:
        held = sum((item.amount for item in result.held), Decimal(0))
        click.echo(
            f"  {len(result.held)} older catch-up piece(s) held for a decision, {_money(held)} ex GST:"
        )
        for item in result.held:
            click.echo(f"    {item.customer_name}: {item.description} {_money(item.amount)}")
        click.echo("  bill them with --include-old-catch-up")
    for warning in result.warnings:
        click.echo(f"  ⚠ {warning}", err=True)


@click.command("close")
@click.option("--period", required=True, type=PERIOD, help="Month to close, e.g. 2026-12.")
@click.option("--send", is_flag=True, help="E-mail the approved invoices even if auto-send is off.")
@click.option(
    "--include-old-catch-up",
    "include_old",
    is_flag=True,
    help="Also bill unbilled days beyond the back-billing horizon (listed by the dry run).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@pass_cli
def close(cli: CliContext, period: Period, send: bool, include_old: bool, as_json: bool) -> None:
    """Close PERIOD: bill run, exceptions, sending (auto-send, or --send), then the report.

    The same use case as the scheduled job and the Slack Run button (`core.month_close`); safe
    to run again. The report is printed here; the channel report is posted by Slack and the
    scheduler. Exit status 0, or 1 when an invoice failed to send or its delivery is uncertain.
    """
    smtp = cli.require_smtp() if send else cli.smtp
    report = close_month(
        engine=cli.engine,
        period=period,
        actor=cli.actor,
        clock=cli.clock,
        smtp=smtp,
        send=True if send else None,
        include_old_catch_up=include_old,
        templates_dir=cli.templates_dir,
    )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        late = " (ran late)" if report.ran_late else ""
        click.echo(
            f"Month close {report.period}{late}: {len(report.entries)} invoice(s), total {_money(report.total)}"
        )
        if report.billed is not None:
            click.echo(
                f"  bill run: {report.billed.created} created, {report.billed.skipped_existing} already there"
            )
        for state, n in sorted(report.counts.items()):
            click.echo(f"  {state.value.replace('_', ' ')}: {n}")
        for entry in report.entries:
            error = f": {entry.error}" if entry.state == State.FAILED and entry.error else ""
            flags = "".join(f"\n      ⚠ {x.message}" for x in entry.exceptions)
            click.echo(
                f"    {entry.number:<14} {entry.state.value:<18} {_money(entry.total):>12}  {entry.customer_name}{error}{flags}"
            )
    bad = report.count(State.FAILED) + report.count(State.UNCERTAIN)
    sys.exit(1 if bad else 0)


def register(main: click.Group) -> None:
    main.add_command(billrun)
    main.add_command(close)
