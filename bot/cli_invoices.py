"""`rebill-bot billrun` and `rebill-bot invoice ...`: the bill run and invoices from a terminal.

Thin on purpose: parse, call `core.billrun` / `core.invoices` / `core.rendering`, print. Expected
failures (a domain error, a bad period, an unmigrated database) end with one clear line on stderr
and exit status 1, never a traceback. Money is printed and exported as strings ("123.45").
Only the database is needed (like `db upgrade`), so these commands work without Slack secrets;
REBILL_TIMEZONE and REBILL_TEMPLATES_DIR are read from the environment (or .env) when set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from bot.cli import _actor, _dotenv_value, _engine, main
from core.errors import RebillError
from core.invoice_states import FILTERS

if TYPE_CHECKING:
    from core.billrun import BillRunResult


@contextmanager
def _friendly_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit status 1."""
    try:
        yield
    except RebillError as exc:
        click.echo(exc.user_message, err=True)
        sys.exit(1)
    except (OperationalError, ProgrammingError) as exc:
        click.echo(
            f"Database error: {exc.orig}. Is DATABASE_URL right, and has `rebill-bot db upgrade` been run?",
            err=True,
        )
        sys.exit(1)
    except SQLAlchemyError as exc:
        click.echo(f"Database error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(1)


def _env(name: str) -> str | None:
    return os.environ.get(name) or _dotenv_value(name)


def _period(value: str | None) -> Any:
    from core.calculation import Period

    if value is None:
        return None
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _today(db: Any) -> date:
    """Today in the billing time zone (overdue is a calendar question)."""
    from core.clock import business_clock

    return business_clock().today()


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


@main.command("billrun")
@click.option("--period", help="Month to bill, e.g. 2026-12 (default: the month the next bill run bills).")
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
def billrun(
    period: str | None,
    dry_run: bool,
    as_json: bool,
    regenerate_drafts: bool,
    batch_size: int,
    include_old: bool,
) -> None:
    """Invoice every active customer with something to bill for PERIOD (safe to run again)."""
    from core.billrun import period_to_bill
    from core.clock import business_clock
    from core.db import session_scope

    engine = _engine()
    if period is None:
        with _friendly_errors(), session_scope(engine, write=False) as db:
            billing_period = period_to_bill(db=db, today=business_clock().today())
    else:
        billing_period = _period(period)
    show_bar = sys.stdout.isatty() and not as_json
    with _friendly_errors():
        if show_bar:
            with click.progressbar(length=1, label=f"Billing {billing_period}") as bar:

                def progress(done: int, total: int) -> None:
                    bar.length = max(total, 1)
                    bar.update(done - bar.pos)

                result = _run(
                    engine, billing_period, regenerate_drafts, dry_run, batch_size, progress, include_old
                )
        else:
            result = _run(engine, billing_period, regenerate_drafts, dry_run, batch_size, None, include_old)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    verb = "would be created" if dry_run else "created"
    click.echo(f"Bill run for {billing_period}{' (dry run, nothing written)' if dry_run else ''}:")
    click.echo(f"  {result.created} invoice(s) {verb}")
    for first, last in result.number_ranges:
        click.echo(f"    {first}" + (f" to {last}" if last != first else ""))
    if result.regenerated:
        click.echo(f"  {result.regenerated} draft(s) {'would be ' if dry_run else ''}regenerated")
    click.echo(f"  {result.skipped_existing} skipped: already invoiced for {billing_period}")
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


def _run(
    engine: Any,
    period: Any,
    regenerate: bool,
    dry_run: bool,
    batch_size: int,
    progress: Callable[[int, int], None] | None,
    include_old: bool = False,
) -> BillRunResult:
    from core.billrun import run_bill
    from core.clock import business_clock

    return run_bill(
        engine=engine,
        period=period,
        actor=_actor(),
        clock=business_clock(),
        regenerate_drafts=regenerate,
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        include_old_catch_up=include_old,
    )


@main.command("close")
@click.option("--period", required=True, help="Month to close, e.g. 2026-12.")
@click.option("--send", is_flag=True, help="E-mail the approved invoices even if auto-send is off.")
@click.option(
    "--include-old-catch-up",
    "include_old",
    is_flag=True,
    help="Also bill unbilled days beyond the back-billing horizon (listed by the dry run).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def close(period: str, send: bool, include_old: bool, as_json: bool) -> None:
    """Close PERIOD: bill run, exceptions, sending (auto-send, or --send), then the report.

    The same use case as the scheduled job and the Slack Run button (`core.month_close`); safe
    to run again. The report is printed here; the channel report is posted by Slack and the
    scheduler. Exit status 0, or 1 when an invoice failed to send or its delivery is uncertain.
    """
    from bot.settings import ConfigError, load_smtp_settings
    from core.clock import business_clock
    from core.month_close import State, close_month

    billing_period = _period(period)
    try:
        smtp = load_smtp_settings().smtp
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if send and smtp is None:
        click.echo("SMTP is not configured: set SMTP_HOST and REBILL_FROM_EMAIL (see README.md).", err=True)
        sys.exit(2)
    with _friendly_errors():
        report = close_month(
            engine=_engine(),
            period=billing_period,
            actor=_actor(),
            clock=business_clock(),
            smtp=smtp,
            send=True if send else None,
            include_old_catch_up=include_old,
            templates_dir=_env("REBILL_TEMPLATES_DIR"),
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


@main.group("invoice")
def invoice_group() -> None:
    """List, show, print and export invoices."""


@invoice_group.command("list")
@click.option("--period", help="Only this month, e.g. 2026-12.")
@click.option(
    "--status",
    type=click.Choice([str(status) for status in FILTERS]),
    help="Only this status (overdue: approved or sent, unpaid, past due).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def invoice_list(period: str | None, status: str | None, as_json: bool) -> None:
    """List invoices by number."""
    from core import invoices
    from core.db import session_scope

    billing_period = _period(period)
    with _friendly_errors(), session_scope(_engine()) as db:
        today = _today(db)
        rows = [
            _summary(invoice, today, invoices.status_label(invoice, today))
            for invoice in invoices.list_invoices(db=db, period=billing_period, status=status, today=today)
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
def invoice_show(number: str, as_json: bool) -> None:
    """Show one invoice with its lines and what changed since the customer's previous invoice."""
    from core import invoices
    from core.db import session_scope
    from core.month_close import changes_for

    with _friendly_errors(), session_scope(_engine()) as db:
        today = _today(db)
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
def invoice_pdf(number: str, output: Path) -> None:
    """Write the invoice as a PDF file."""
    from core import invoices, rendering
    from core.clock import business_clock
    from core.db import session_scope

    with _friendly_errors(), session_scope(_engine()) as db:
        invoice = invoices.find(db=db, ref=number)
        env = rendering.environment(_env("REBILL_TEMPLATES_DIR"), timezone=business_clock().timezone)
        pdf = rendering.invoice_pdf(db=db, invoice=invoice, env=env)
        output.write_bytes(pdf)
    click.echo(f"wrote {invoice.number} to {output} ({len(pdf):,} bytes)")


@invoice_group.command("export")
@click.option(
    "--csv", "path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write."
)
@click.option("--period", help="Only this month, e.g. 2026-12.")
@click.option("--include-drafts", is_flag=True, help="Export drafts too (void invoices never are).")
@click.option("--account-code", default=None, help="Xero AccountCode (default: the Xero settings).")
def invoice_export(path: Path, period: str | None, include_drafts: bool, account_code: str | None) -> None:
    """Export invoice lines as Xero's sales-invoice import CSV (all 29 columns, one row per line).

    Amounts are tax exclusive: choose "Tax exclusive" when importing into Xero.
    """
    import io

    from core.db import session_scope
    from core.xero_csv import export

    billing_period = _period(period)
    buffer = io.StringIO()
    with _friendly_errors(), session_scope(_engine()) as db:
        rows = export(
            db, buffer, period=billing_period, include_drafts=include_drafts, account_code=account_code
        )
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    click.echo(f"exported {rows} line(s) to {path}")


@invoice_group.command("credit")
@click.argument("number")
@click.option("--lines", "lines", help="Line numbers to credit, e.g. 1,3 (default: every line).")
@click.option("--reason", help="Why, printed on the credit note.")
@click.option("--json", "as_json", is_flag=True)
def invoice_credit(number: str, lines: str | None, reason: str | None, as_json: bool) -> None:
    """Issue a credit note for all or some lines of a sent or paid invoice (instead of a void)."""
    from core import credit_notes
    from core.clock import business_clock
    from core.db import session_scope

    positions = _positions(lines)
    with _friendly_errors(), session_scope(_engine()) as db:
        done = credit_notes.credit(
            db=db,
            ref=number,
            actor=_actor(),
            clock=business_clock(),
            positions=positions,
            reason=reason,
            today=_today(db),
        )
        note = done.credit_note
        data = _summary(note, _today(db), note.status) | {"credits": done.invoice.number}
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
def invoice_send(number: str, resend: bool) -> None:
    """E-mail the invoice (PDF attached) to the customer; a draft is approved first.

    Exit status 0 when the customer has the invoice (sent now, or already sent before), 1 when it
    was not sent (refused, mail server error, another sender busy with it), 2 when SMTP is not set up.
    """
    from bot.settings import ConfigError, load_smtp_settings
    from core.clock import business_clock
    from core.delivery import send_invoice

    try:
        smtp = load_smtp_settings().smtp
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if smtp is None:
        click.echo("SMTP is not configured: set SMTP_HOST and REBILL_FROM_EMAIL (see README.md).", err=True)
        sys.exit(2)
    with _friendly_errors():
        result = send_invoice(
            engine=_engine(),
            smtp=smtp,
            invoice_ref=number,
            actor=_actor(),
            clock=business_clock(),
            resend=resend,
            templates_dir=_env("REBILL_TEMPLATES_DIR"),
        )
    click.echo(result.message, err=not result.ok)
    sys.exit(0 if result.ok else 1)
