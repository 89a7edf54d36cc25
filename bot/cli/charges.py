"""`rebill-bot charges ...`: list, add and preview a customer's charges from scripts.

Money in --json output is always a string ("123.45"), never a float.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from core import charges, customers, licence_feed
from core.billrun import period_to_bill
from core.calculation import Period
from core.charge_validation import validate_once_off, validate_recurring_charge
from core.db import session_scope
from core.errors import FieldErrors

# Validation errors are keyed by field; a terminal user typed these options.
FLAGS = {
    "unit_price": "--unit-price",
    "unit_cost": "--unit-cost",
    "quantity_feed": "--quantity-feed",
    "effective_from": "--from",
    "item_date": "--from",
    "end_date": "--until",
    "service_id": "--service",
}


def _money(value: Any) -> str:
    return f"{value:f}"


def _optional_money(value: Any) -> str | None:
    return None if value is None else f"{value:f}"


@click.group("charges")
def charges_group() -> None:
    """Services, recurring charges and once-off items of an end customer."""


@charges_group.command("list")
@click.argument("customer")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def charges_list(cli: CliContext, customer: str, as_json: bool) -> None:
    """List CUSTOMER's services, recurring charges and once-off items (CUSTOMER: id or name)."""
    with session_scope(cli.engine) as db:
        found = customers.find(db, customer)
        cid = found.id or 0
        data = {
            "customer": {"id": cid, "company_name": found.company_name},
            "services": [
                {
                    "id": s.id,
                    "name": s.name,
                    "reference": s.reference,
                    "psa_reference": s.psa_reference,
                    "start_date": str(s.start_date),
                    "end_date": s.end_date and str(s.end_date),
                    "status": s.status,
                    "exclude_next_invoice": s.exclude_next_invoice,
                }
                for s in charges.list_services(db=db, customer_id=cid)
            ],
            "recurring_charges": [
                {
                    "id": c.id,
                    "description": c.description,
                    "unit_price": _money(c.unit_price),
                    "unit_cost": _optional_money(c.unit_cost),
                    "quantity": _money(c.quantity),
                    "quantity_feed": c.quantity_feed,
                    "frequency": c.frequency,
                    "effective_from": str(c.effective_from),
                    "end_date": c.end_date and str(c.end_date),
                    "taxable": c.taxable,
                    "service_id": c.service_id,
                }
                for c in charges.list_recurring_charges(db=db, customer_id=cid)
            ],
            "once_off_items": [
                {
                    "id": i.id,
                    "description": i.description,
                    "unit_price": _money(i.unit_price),
                    "unit_cost": _optional_money(i.unit_cost),
                    "quantity": _money(i.quantity),
                    "date": str(i.item_date),
                    "taxable": i.taxable,
                    "status": "invoiced" if i.invoice_id else "not yet invoiced",
                    "invoice_id": i.invoice_id,
                }
                for i in charges.list_once_offs(db=db, customer_id=cid)
            ],
        }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['customer']['company_name']} (id {data['customer']['id']})")
    for s in data["services"]:
        click.echo(f"  service #{s['id']}: {s['name']} [{s['status']}] from {s['start_date']}")
    for c in data["recurring_charges"]:
        cost = f" (cost {c['unit_cost']})" if c["unit_cost"] is not None else ""
        click.echo(
            f"  recurring #{c['id']}: {c['description']}  {c['quantity']} x {c['unit_price']}{cost} {c['frequency']} from {c['effective_from']}"
        )
    for i in data["once_off_items"]:
        click.echo(
            f"  once-off #{i['id']}: {i['description']}  {i['quantity']} x {i['unit_price']} on {i['date']} ({i['status']})"
        )


@charges_group.command("add")
@click.argument("customer")
@click.option("--once-off", "once_off", is_flag=True, help="A once-off item instead of a recurring charge.")
@click.option("--description", required=True)
@click.option(
    "--unit-price", help='Ex-GST, e.g. "1,234.50" or "$32.5"; omit to price --unit-cost plus margin.'
)
@click.option("--unit-cost", help="Wholesale cost ex-GST (internal, never on the invoice).")
@click.option("--quantity-feed", help="Licence feed the quantity follows (recurring charges).")
@click.option("--quantity", default="1", show_default=True)
@click.option(
    "--frequency",
    default="monthly",
    show_default=True,
    type=click.Choice(["monthly", "quarterly", "annually"]),
)
@click.option(
    "--from",
    "effective_from",
    help="Effective-from date (recurring) or item date (once-off), YYYY-MM-DD; default today.",
)
@click.option("--until", "end_date", help="End date of a recurring charge, YYYY-MM-DD.")
@click.option("--gst-free", is_flag=True, help="No GST on this charge.")
@click.option("--service", "service_id", type=int, help="Service id the recurring charge belongs to.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def charges_add(
    cli: CliContext,
    customer: str,
    once_off: bool,
    description: str,
    unit_price: str | None,
    unit_cost: str | None,
    quantity_feed: str | None,
    quantity: str,
    frequency: str,
    effective_from: str | None,
    end_date: str | None,
    gst_free: bool,
    service_id: int | None,
    as_json: bool,
) -> None:
    """Add a recurring charge (or --once-off item) to CUSTOMER, with the same rules as Slack."""
    start = effective_from or cli.clock.today().isoformat()
    try:
        with session_scope(cli.engine) as db:
            cid = customers.find(db, customer).id or 0
            if once_off:
                data = validate_once_off(
                    description=description,
                    unit_price=unit_price,
                    quantity=quantity,
                    item_date=start,
                    taxable=not gst_free,
                    unit_cost=unit_cost,
                )
                row: Any = charges.add_once_off(
                    db=db, actor=cli.actor, customer_id=cid, data=data, clock=cli.clock
                )
                kind = "once-off item"
            else:
                data2 = validate_recurring_charge(
                    description=description,
                    unit_price=unit_price,
                    quantity=quantity,
                    frequency=frequency,
                    effective_from=start,
                    end_date=end_date,
                    taxable=not gst_free,
                    service_id=service_id,
                    unit_cost=unit_cost,
                    quantity_feed=quantity_feed,
                )
                row = charges.add_recurring_charge(
                    db=db, actor=cli.actor, customer_id=cid, data=data2, clock=cli.clock
                )
                kind = "recurring charge"
            row_id = row.id
    except FieldErrors as exc:  # one line per option, as `settings set` lists one per key
        for name, message in exc.errors.items():
            click.echo(f"{FLAGS.get(name, '--' + name)}: {message}", err=True)
        sys.exit(1)
    click.echo(json.dumps({"id": row_id, "kind": kind}) if as_json else f"added {kind} #{row_id}")


@charges_group.command("preview")
@click.argument("customer")
@click.option("--period", help="YYYY-MM of the invoice; default next month.")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def charges_preview(cli: CliContext, customer: str, period: str | None, as_json: bool) -> None:
    """The lines and totals CUSTOMER's invoice for PERIOD would have (computed, nothing written)."""
    try:
        chosen = Period.parse(period) if period else None
    except ValueError as exc:
        raise Failure(f"--period must be YYYY-MM from 2000 to 2100 ({exc})") from None
    with session_scope(cli.engine) as db:
        chosen = chosen or period_to_bill(db=db, today=cli.clock.today())
        found = customers.find(db, customer)
        lines, result, bill = charges.preview_bill(db=db, customer_id=found.id or 0, period=chosen)
        notes = [str(n) for n in licence_feed.changes(db=db, customer_id=found.id or 0, period=chosen)]
        name = found.company_name
    data = {
        "customer": name,
        "period": str(chosen),
        "lines": [
            {
                "kind": line.kind,
                "source_id": line.source_id,
                "description": line.description,
                "quantity": _money(line.quantity),
                "unit_price": _money(line.unit_price),
                "amount": _money(line.amount),
                "unit_cost": _optional_money(line.unit_cost),
                "cost": _optional_money(line.cost),
                "taxable": line.taxable,
                "period_start": line.period_start and str(line.period_start),
                "period_end": line.period_end and str(line.period_end),
                "reason": line.reason,
                "charge_version": line.charge_version,
            }
            for line in lines
        ],
        "type": "credit_note" if result.total < 0 else "invoice",
        "held_catch_up": [
            {
                "description": line.description,
                "period_start": str(line.period_start),
                "period_end": str(line.period_end),
                "amount": _money(line.amount),
            }
            for line in bill.held
        ],
        "subtotal": _money(result.subtotal),
        "tax": _money(result.tax),
        "total": _money(result.total),
        "tax_rounding": result.tax_rounding,
        "cost": _money(sum((line.cost for line in lines if line.cost is not None), Decimal(0))),
        "quantity_changes": notes,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{name}: invoice for {chosen}")
    for line in data["lines"]:
        cost = f"  (cost {line['cost']})" if line["cost"] is not None else ""
        click.echo(
            f"  {line['description']}: {line['quantity']} x {line['unit_price']} = {line['amount']}{cost}"
        )
    click.echo(f"  subtotal {data['subtotal']}  GST {data['tax']}  total {data['total']}")
    for line in data["held_catch_up"]:
        click.echo(f"  held for a decision (older than the horizon): {line['description']} {line['amount']}")
    for note in notes:
        click.echo(f"  {note}")


def register(main: click.Group) -> None:
    main.add_command(charges_group)
