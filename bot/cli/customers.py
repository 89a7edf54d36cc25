"""`rebill-bot customers list|export|import`: end customers from a terminal or a script."""

from __future__ import annotations

import io
import json
import sys

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from core import billing_settings, customers, payment_terms
from core.customer_csv import export, import_csv, summary_lines
from core.db import session_scope


@click.group("customers")
def customers_group() -> None:
    """List, export and import end customers."""


@customers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "include_archived", is_flag=True, help="Include archived customers.")
@click.argument("text", required=False, default="")
@pass_cli
def customers_list(cli: CliContext, as_json: bool, include_archived: bool, text: str) -> None:
    """List end customers (optionally those whose name contains TEXT)."""
    with session_scope(cli.engine) as db:
        default = billing_settings.default_terms(db)
        page = customers.list_page(db, text=text, include_archived=include_archived, limit=1_000_000)
        rows = [
            {
                "id": c.id,
                "company_name": c.company_name,
                "email": c.email,
                "contact_number": c.contact_number,
                "payment_terms_days": c.payment_terms_days,
                "effective_payment_terms_days": payment_terms.effective_days(c.payment_terms_days, default),
                "psa_kind": c.psa_kind,
                "psa_ref": c.psa_ref,
                "archived": c.archived_at is not None,
            }
            for c in page.customers
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        email = row["email"] or "⚠ no e-mail: invoices can't be sent"
        terms = payment_terms.describe(row["payment_terms_days"], default)
        archived = " (archived)" if row["archived"] else ""
        click.echo(f"{row['id']:>6}  {row['company_name']}{archived}  |  {email}  |  {terms}")
    click.echo(f"{len(rows)} customer(s)")


@customers_group.command("export")
@click.option(
    "--csv", "path", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write."
)
@pass_cli
def customers_export(cli: CliContext, path: str) -> None:
    """Export every end customer (archived included) to a CSV file."""
    with session_scope(cli.engine) as db, open(path, "w", newline="", encoding="utf-8") as out:
        count = export(db, out)
    click.echo(f"exported {count} customer(s) to {path}")


@customers_group.command("import")
@click.option(
    "--csv", "path", required=True, type=click.Path(exists=True, dir_okay=False), help="File to read."
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@pass_cli
def customers_import(cli: CliContext, path: str, dry_run: bool) -> None:
    """Create or update end customers from CSV (matched by PSA reference, else company name)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as source:
            text = source.read()
    except UnicodeDecodeError:
        raise Failure("Malformed file, nothing imported: it is not UTF-8 text.") from None
    with session_scope(cli.engine) as db:
        report = import_csv(db, io.StringIO(text), actor=cli.actor, clock=cli.clock, dry_run=dry_run)
        if not report.ok:
            db.rollback()
    for line in summary_lines(report, dry_run=dry_run):
        click.echo(line, err=not report.ok)
    sys.exit(0 if report.ok else 1)


def register(main: click.Group) -> None:
    main.add_command(customers_group)
