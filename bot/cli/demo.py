"""`rebill-bot demo`: see rebill-bot work without Slack credentials.

It builds a demo database with a realistic MSP book, runs a bill run, writes every invoice as HTML
and PDF, and prints the Slack alerts that would be posted. Nothing is sent anywhere.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlmodel import select

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from core import billing_settings, charges, customers
from core.alerts import missing_email_with_work
from core.billrun import run_bill
from core.calculation import Period
from core.charge_validation import validate_once_off, validate_recurring_charge, validate_service
from core.customer_validation import validate_customer
from core.db import make_engine, session_scope
from core.invoices import list_invoices
from core.rendering import PdfUnavailable, environment, load_context, render_invoice_html, render_pdf
from models.customers import EndCustomer

FIRST = [
    "Harbour",
    "Coastal",
    "Summit",
    "Pacific",
    "Evergreen",
    "Southern Cross",
    "Bright",
    "Northside",
    "Metro",
    "Outback",
    "Bayview",
    "Riverside",
    "Granite",
    "Golden Wattle",
    "Blue Gum",
]
TRADE = [
    "Dental",
    "Legal",
    "Motors",
    "Plumbing",
    "Accounting",
    "Logistics",
    "Builders",
    "Physio",
    "Vets",
    "Realty",
]
CITIES = [
    ("Sydney", "NSW", "2000"),
    ("Melbourne", "VIC", "3000"),
    ("Brisbane", "QLD", "4000"),
    ("Perth", "WA", "6000"),
    ("Adelaide", "SA", "5000"),
    ("Hobart", "TAS", "7000"),
]
SERVICES = [  # name, charge description, unit price, typical seats
    ("Microsoft 365", "Microsoft 365 Business Premium", "32.90", 12),
    ("Backup", "Cloud backup (per TB)", "85.00", 2),
    ("Phone system", "Hosted PBX seat", "24.50", 8),
    ("Managed support", "Managed IT support (per device)", "45.00", 15),
]


def _text(node: Any) -> list[str]:
    """Block Kit as terminal text: what a person would read in Slack; buttons as [Label]."""
    if isinstance(node, list):
        return [piece for item in node for piece in _text(item)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "button":
        return [f"[{node['text']['text']}]"]
    if node.get("type") in ("mrkdwn", "plain_text"):
        return [node.get("text", "")]
    return [piece for key in ("text", "fields", "elements", "accessory") for piece in _text(node.get(key))]


def _print_message(title: str, blocks: list[dict[str, Any]]) -> None:
    click.echo(f"\n--- {title} " + "-" * max(0, 60 - len(title)))
    for block in blocks:
        line = " ".join(_text(block)).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        if line.strip():
            click.echo(f"  {line}")


@click.command("demo")
@click.option(
    "--dir",
    "folder",
    default="rebill-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the demo database and invoices go.",
)
@click.option("--customers", "count", default=25, show_default=True, type=click.IntRange(1, 200))
@pass_cli
def demo(cli: CliContext, folder: str, count: int) -> None:
    """Build a demo MSP book, run a bill run, write invoices (HTML and PDF), print the alerts."""
    # Imported here, not at the top: the alert views load Slack's whole handler package
    # (slack_bolt), and migrating loads Alembic; only the demo needs both, and every other
    # command would wait for them at start-up (bench/cli_startup.py).
    from bot import migrate
    from handlers.alert_views import invoice_ready_digest, invoice_thread_messages, missing_email_digest

    out = Path(folder)
    database = out / "demo.db"
    if database.exists():
        raise Failure(f"{database} exists; remove {out} (or pass --dir) to build a fresh demo.", code=2)
    (out / "invoices").mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    clock, actor, rng = cli.clock, "cli:demo", random.Random(2026)
    today = clock.today()
    period = Period.of(today).next()
    started = date(today.year - 1 if today.month == 1 else today.year, today.month - 1 or 12, 1)

    with session_scope(engine) as db:
        basics = billing_settings.validate_basics(
            {
                "business_name": "Acme Managed Services Pty Ltd",
                "default_payment_terms_days": "14",
                "invoice_prefix": "ACME-",
                "invoice_start_number": "1001",
            }
        )
        more = billing_settings.validate_more(
            {
                "abn": "51 824 753 556",
                "business_address": "Level 3, 100 George St\nSydney NSW 2000",
                "business_email": "accounts@acme-msp.example",
                "business_phone": "02 9000 0000",
                "payment_instructions": "EFT to BSB 062-000, account 1234 5678 (Acme Managed Services).",
                "tax_rate": "10",
                "currency": "AUD",
                "billing_mode": "advance",
                "bill_run_day": "1",
                "bill_run_hour": "2",
                "missing_email_digest_time": "09:00",
            }
        )
        billing_settings.save_all(db, basics, more, actor=actor, clock=clock)
        for n in range(count):
            city, state, postcode = CITIES[n % len(CITIES)]
            name = f"{FIRST[n % len(FIRST)]} {TRADE[(n * 7) % len(TRADE)]}" + (" Group" if n >= 15 else "")
            slug = name.lower().replace(" ", "")
            customer = customers.create(
                db,
                validate_customer(
                    {
                        "company_name": name,
                        "email": None if n % 8 == 3 else f"accounts@{slug}.example",
                        "contact_number": f"0{rng.randint(2, 8)} {rng.randint(9000, 9999)} {rng.randint(1000, 9999)}",
                        "address_line1": f"{rng.randint(1, 250)} {rng.choice(['King', 'Queen', 'Market', 'Bridge'])} St",
                        "city": city,
                        "state": state,
                        "postcode": postcode,
                        "country": "Australia",
                        "payment_terms_days": "30" if n % 5 == 0 else None,
                    }
                ),
                actor=actor,
                clock=clock,
            )
            assert customer.id is not None
            for service_name, description, price, seats in rng.sample(SERVICES, k=rng.randint(1, 3)):
                start = started if rng.random() < 0.8 else period.first_day.replace(day=rng.randint(2, 20))
                service = charges.add_service(
                    db=db,
                    actor=actor,
                    customer_id=customer.id,
                    data=validate_service(name=service_name, start_date=start.isoformat()),
                    clock=cli.clock,
                )
                charges.add_recurring_charge(
                    db=db,
                    actor=actor,
                    customer_id=customer.id,
                    data=validate_recurring_charge(
                        description=description,
                        unit_price=price,
                        quantity=str(max(1, seats + rng.randint(-3, 5))),
                        frequency="monthly",
                        effective_from=start.isoformat(),
                        service_id=service.id,
                    ),
                    clock=cli.clock,
                )
            if n % 4 == 0:
                charges.add_once_off(
                    db=db,
                    actor=actor,
                    customer_id=customer.id,
                    data=validate_once_off(
                        description="On-site visit (2 hours)",
                        unit_price="165",
                        quantity="2",
                        item_date=today.isoformat(),
                    ),
                    clock=cli.clock,
                )
            if n % 9 == 0:
                charges.add_recurring_charge(
                    db=db,
                    actor=actor,
                    customer_id=customer.id,
                    data=validate_recurring_charge(
                        description="Domain and DNS hosting",
                        unit_price="240",
                        quantity="1",
                        frequency="annually",
                        effective_from=period.first_day.isoformat(),
                        taxable=True,
                    ),
                    clock=cli.clock,
                )

    result = run_bill(engine=engine, period=period, actor=actor, clock=clock)
    click.echo(f"Demo book: {count} end customers in {database}")
    click.echo(f"Bill run for {period}: {result.created} invoices, ${result.total:,.2f} including GST")

    env = environment(timezone=clock.timezone)
    pdf_problem = None
    with session_scope(engine) as db:
        made = list_invoices(db=db, period=period)
        for invoice in made:
            html = render_invoice_html(env, load_context(db=db, invoice=invoice))
            (out / "invoices" / f"{invoice.number}.html").write_text(html, encoding="utf-8")
            if pdf_problem is None:
                try:
                    (out / "invoices" / f"{invoice.number}.pdf").write_bytes(render_pdf(html))
                except PdfUnavailable as exc:  # the HTML still shows the invoices
                    pdf_problem = exc.user_message
        emails = {c.id: c.email for c in db.exec(select(EndCustomer)).all()}
        lacking = list(missing_email_with_work(db, today=today))
    kinds = "HTML only" if pdf_problem else "HTML and PDF"
    click.echo(f"Wrote {len(made)} invoices as {kinds} to {out / 'invoices'}")
    if pdf_problem:
        click.echo(pdf_problem, err=True)

    click.echo("\nThe Slack messages rebill-bot would post in your alerts channel:")
    text, blocks = invoice_ready_digest(str(period), made)
    _print_message(text, blocks)
    for thread_text, thread_blocks in invoice_thread_messages(made, emails)[:1]:
        _print_message(f"(in the thread) {thread_text}", thread_blocks)
    if lacking:
        text, blocks = missing_email_digest(lacking)
        _print_message(text, blocks)
    suffix = ".html" if pdf_problem else ".pdf"
    click.echo(f"\nOpen {out / 'invoices' / (made[0].number + suffix)} to see an invoice." if made else "")


def register(main: click.Group) -> None:
    main.add_command(demo)
