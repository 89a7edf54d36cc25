"""`rebill-bot invoice list|show|pdf|export|credit|send`: invoices from a terminal.

Thin on purpose: parse, call `core.invoices` / `core.rendering` / `core.credit_notes` /
`core.delivery`, print. Only the database is needed, so these work without Slack secrets (`send`
also needs SMTP). "Today" (for overdue) is the business clock's. Money is printed and exported as
strings ("123.45").
"""

from __future__ import annotations

import io
import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.params import PERIOD
from core import credit_notes, invoices, rendering, xero_csv
from core.calculation import Period
from core.db import session_scope
from core.delivery import send_invoice
from core.invoice_states import FILTERS
from core.month_close import changes_for


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


@click.group("invoice")
def invoice_group() -> None:
    """List, show, print and export invoices."""


@invoice_group.command("list")
@click.option("--period", type=PERIOD, help="Only this month, e.g. 2026-12.")
@click.option(
    "--status",
    type=click.Choice([str(status) for status in FILTERS]),
    help="Only this status (overdue: approved or sent, unpaid, past due).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def invoice_list(cli: CliContext, period: Period | None, status: str | None, as_json: bool) -> None:
    """List invoices by number."""
    today = cli.clock.today()
    with session_scope(cli.engine) as db:
        rows = [
            _summary(invoice, today, invoices.status_label(invoice, today))
            for invoice in invoices.list_invoices(db=db, period=period, status=status, today=today)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['number']:<14} {row['period']}  {row['label']:<16} due {row['due_date']}  "
            f"{row['total']:>12} {row['currency']}  {row['customer_name']}"
        )
    click.echo(f"{len(rows)} invoice(s)")


@invoice_group.command("show")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def invoice_show(cli: CliContext, number: str, as_json: bool) -> None:
    """Show one invoice with its lines and what changed since the customer's previous invoice."""
    today = cli.clock.today()
    with session_scope(cli.engine) as db:
        found = invoices.detail(db=db, ref=number)
        data = _summary(found.invoice, today, invoices.status_label(found.invoice, today))
        changes = changes_for(db, found.invoice)
        data["changes"] = changes.as_dict()
        summary = changes.summary()
        data["lines"] = [
            {
                "position": line.position,
                "kind": line.kind,
                "description": line.description,
                "quantity": str(line.quantity.normalize()),
                "unit_price": str(line.unit_price),
                "amount": _money(line.amount),
                "taxable": line.taxable,
            }
            for line in found.lines
        ]
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['number']}  ({data['label']})  {data['customer_name']}")
    click.echo(f"period {data['period']}  issued {data['issue_date']}  due {data['due_date']}")
    for line in data["lines"]:
        gst = "" if line["taxable"] else "  (GST free)"
        click.echo(
            f"  {line['description']}  {line['quantity']} x {line['unit_price']} = {line['amount']}{gst}"
        )
    click.echo(f"subtotal {data['subtotal']}  GST {data['tax']}  total {data['total']} {data['currency']}")
    click.echo(summary)


def _summary(invoice: Any, today: date, label: str) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "customer_name": invoice.customer_name,
        "customer_email": invoice.customer_email,
        "period": invoice.period,
        "status": invoice.status,
        "label": label,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "currency": invoice.currency,
        "subtotal": _money(invoice.subtotal),
        "tax": _money(invoice.tax),
        "total": _money(invoice.total),
        "tax_rounding": invoice.tax_rounding,
        "type": invoice.doc_type,
        "credits_invoice_id": invoice.credits_invoice_id,
    }


@invoice_group.command("pdf")
@click.argument("number")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def invoice_pdf(cli: CliContext, number: str, output: Path) -> None:
    """Write the invoice as a PDF file."""
    with session_scope(cli.engine) as db:
        invoice = invoices.find(db=db, ref=number)
        env = rendering.environment(cli.templates_dir, timezone=cli.clock.timezone)
        pdf = rendering.invoice_pdf(db=db, invoice=invoice, env=env)
        output.write_bytes(pdf)
    click.echo(f"wrote {invoice.number} to {output} ({len(pdf):,} bytes)")


@invoice_group.command("export")
@click.option(
    "--csv", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.option("--period", type=PERIOD, help="Only this month, e.g. 2026-12.")
@click.option("--include-drafts", is_flag=True, help="Export drafts too (void invoices never are).")
@click.option("--account-code", default=None, help="Xero AccountCode (default: the Xero settings).")
@pass_cli
def invoice_export(
    cli: CliContext, path: Path, period: Period | None, include_drafts: bool, account_code: str | None
) -> None:
    """Export invoice lines as Xero's sales-invoice import CSV (all 29 columns, one row per line).

    Amounts are tax exclusive: choose "Tax exclusive" when importing into Xero.
    """
    buffer = io.StringIO()  # the file is written only once every row is built
    with session_scope(cli.engine) as db:
        rows = xero_csv.export(
            db, buffer, period=period, include_drafts=include_drafts, account_code=account_code
        )
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    click.echo(f"exported {rows} line(s) to {path}")


@invoice_group.command("credit")
@click.argument("number")
@click.option("--lines", "lines", help="Line numbers to credit, e.g. 1,3 (default: every line).")
@click.option("--reason", help="Why, printed on the credit note.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def invoice_credit(
    cli: CliContext, number: str, lines: str | None, reason: str | None, as_json: bool
) -> None:
    """Issue a credit note for all or some lines of a sent or paid invoice (instead of a void)."""
    positions = _positions(lines)
    today = cli.clock.today()
    with session_scope(cli.engine) as db:
        done = credit_notes.credit(
            db=db,
            ref=number,
            actor=cli.actor,
            clock=cli.clock,
            positions=positions,
            reason=reason,
            today=today,
        )
        note = done.credit_note
        data = _summary(note, today, note.status) | {"credits": done.invoice.number}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['number']} credits {done.lines} line(s) of {data['credits']}: total {data['total']}")


def _positions(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        found = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise click.BadParameter(
            "use line numbers separated by commas, e.g. 1,3", param_hint="--lines"
        ) from None
    if not found or min(found) < 1:
        raise click.BadParameter("use line numbers from 1, e.g. 1,3", param_hint="--lines")
    return found


@invoice_group.command("send")
@click.argument("number")
@click.option("--resend", is_flag=True, help="Send it again even if it was sent before.")
@pass_cli
def invoice_send(cli: CliContext, number: str, resend: bool) -> None:
    """E-mail the invoice (PDF attached) to the customer; a draft is approved first.

    Exit status 0 when the customer has the invoice (sent now, or already sent before), 1 when it
    was not sent (refused, mail server error, another sender busy with it), 2 when SMTP is not set up.
    """
    result = send_invoice(
        engine=cli.engine,
        smtp=cli.require_smtp(),
        invoice_ref=number,
        actor=cli.actor,
        clock=cli.clock,
        resend=resend,
        templates_dir=cli.templates_dir,
    )
    click.echo(result.message, err=not result.ok)
    sys.exit(0 if result.ok else 1)


def register(main: click.Group) -> None:
    main.add_command(invoice_group)
