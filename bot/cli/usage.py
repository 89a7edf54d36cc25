"""`rebill-bot usage import|licences`: supplier usage and licence counts from files.

Thin: open the file, call `core.usage_import` / `core.licence_feed`, print. Every
bad row is printed to stderr as it is found (the file is streamed, so there may be many), then a
summary; exit status 1 when nothing was imported because of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.context import CliContext, pass_cli
from core.db import session_scope
from core.licence_feed import import_counts
from core.usage_import import import_usage, load_mapping, summary_lines


@click.group("usage")
def usage_group() -> None:
    """Import supplier usage files and licence counts."""


@usage_group.command("import")
@click.option(
    "--csv", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to read."
)
@click.option("--map", "mapping", help="TOML column mapping (a file, or a shipped one: standard, telco_cdr).")
@click.option("--dry-run", is_flag=True, help="Check everything and report; write nothing.")
@pass_cli
def usage_import(cli: CliContext, path: Path, mapping: str | None, dry_run: bool) -> None:
    """Import usage from a supplier's CSV: all rows or none; rows already imported are skipped."""
    chosen = load_mapping(mapping)
    with (
        session_scope(cli.engine) as db,
        path.open(newline="", encoding=chosen.encoding) as source,
    ):
        report = import_usage(
            db,
            source,
            mapping=chosen,
            actor=cli.actor,
            clock=cli.clock,
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
@pass_cli
def usage_licences(cli: CliContext, path: Path, dry_run: bool) -> None:
    """Import licence counts (columns feed,date,quantity) that charges' quantities follow."""
    with (
        session_scope(cli.engine) as db,
        path.open(newline="", encoding="utf-8-sig") as source,
    ):
        report = import_counts(db, source, actor=cli.actor, clock=cli.clock, dry_run=dry_run)
    if not report.ok:
        click.echo(f"Nothing imported: {len(report.errors or [])} bad row(s).", err=True)
        for error in report.errors or []:
            click.echo(error, err=True)
        sys.exit(1)
    click.echo(f"{report.written} count(s) {'would be ' if dry_run else ''}written")


def register(main: click.Group) -> None:
    main.add_command(usage_group)
