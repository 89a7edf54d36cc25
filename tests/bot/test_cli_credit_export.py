"""`invoice credit`, `invoice list --json` types, and an export the books reproduce to the cent."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.cli import main
from core import charges
from core.calculation import PER_INVOICE, Period
from core.charge_validation import validate_once_off
from core.clock import DEFAULT_TIMEZONE
from core.db import session_scope
from models.invoices import Invoice, InvoiceLine
from tests.factories import configure
from tests.harness.clock import FixedClock
from tests.harness.ledger_book import charge, customer, run

D = Decimal
CENT = D("0.01")
DEC = Period(2026, 12)


def cli(engine: Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    env = {"DATABASE_URL": url, "REBILL_TIMEZONE": DEFAULT_TIMEZONE}
    return CliRunner().invoke(main, list(args), env=env)


def xero_totals(rows: list[dict[str, str]], *, use_tax_amount: bool) -> tuple[D, D]:
    """What Xero makes of one imported document: each LineAmount is Quantity x UnitAmount rounded to
    cents, each line's GST is that times 10% rounded per line (or the TaxAmount given), summed."""
    subtotal = tax = D("0.00")
    for row in rows:
        amount = (D(row["Quantity"]) * D(row["UnitAmount"])).quantize(CENT, rounding=ROUND_HALF_UP)
        own = (
            (amount * D("0.10")).quantize(CENT, rounding=ROUND_HALF_UP)
            if row["TaxType"] == "GST on Income"
            else 0
        )
        subtotal += amount
        tax += D(row["TaxAmount"]) if use_tax_amount else own
    return subtotal, subtotal + tax


def build(engine: Engine, tmp_path: Path) -> None:
    """25 customers with prices that round awkwardly (seeded, so the same book every time)."""
    configure(engine, terms=14)
    rng = random.Random(12)
    for n in range(25):
        cid = customer(engine, f"Customer {n:02d}")
        for k in range(rng.randint(1, 4)):
            price = D(rng.randint(1, 400_000)) / 10_000
            start = f"2026-{rng.choice(['01', '12'])}-{rng.randint(1, 28):02d}"
            charge(engine, cid, f"Seat {k}", str(price), start, quantity=str(rng.randint(1, 9)))
        with session_scope(engine) as db:
            item = validate_once_off(
                description="Call-out", unit_price="0.15", quantity="1", item_date="2026-12-01"
            )
            charges.add_once_off(db=db, actor="cli:test", customer_id=cid, data=item, clock=FixedClock())
    run(engine, DEC)


def test_every_exported_document_adds_up_in_xero_as_it_does_here(engine: Engine, tmp_path: Path) -> None:
    build(engine, tmp_path)
    with session_scope(engine) as db:
        first, second = db.execute(select(Invoice.number).order_by(col(Invoice.id)).limit(2)).scalars()
        db.execute(update(Invoice).where(col(Invoice.number).in_([first, second])).values(status="sent"))
        # An invoice from before per-line rounding (GST rounded once on the invoice, no line taxes),
        # one where that rule gives another cent than Xero's per-line rounding would.
        differing = []
        for inv in list(
            db.execute(select(Invoice).where(col(Invoice.number).not_in([first, second]))).scalars()
        ):
            found = list(db.execute(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)).scalars())
            taxable = sum((ln.amount for ln in found if ln.taxable), D(0))
            per_invoice = (taxable * inv.tax_rate).quantize(CENT, rounding=ROUND_HALF_UP)
            if per_invoice != inv.tax:
                differing.append((inv, per_invoice))
        assert differing, "the seeded book must have an invoice whose per-invoice GST differs"
        old, per_invoice = differing[0]
        third = old.number
        db.execute(
            update(Invoice)
            .where(col(Invoice.id) == old.id)
            .values(
                tax_rounding=PER_INVOICE, tax=per_invoice, total=old.subtotal + per_invoice, status="approved"
            )
        )
        db.execute(update(InvoiceLine).where(col(InvoiceLine.invoice_id) == old.id).values(tax=None))
    credited = cli(engine, "invoice", "credit", first, "--lines", "1", "--reason", "Outage", "--json")
    assert credited.exit_code == 0, credited.output
    note = json.loads(credited.output)
    assert (note["type"], note["credits"], note["number"]) == ("credit_note", first, "CN-00001")
    whole = cli(engine, "invoice", "credit", second)
    assert whole.exit_code == 0 and "CN-00002 credits" in whole.output, whole.output
    again = cli(engine, "invoice", "credit", second)
    assert again.exit_code == 1 and "already have a credit note" in again.output
    bad = cli(engine, "invoice", "credit", second, "--lines", "x")
    assert bad.exit_code == 2 and "line numbers" in bad.output

    listed = json.loads(cli(engine, "invoice", "list", "--json").output)
    assert {row["type"] for row in listed} == {"invoice", "credit_note"}
    assert sum(row["type"] == "credit_note" for row in listed) == 2

    out = tmp_path / "xero.csv"
    exported = cli(
        engine, "invoice", "export", "--csv", str(out), "--include-drafts", "--account-code", "200"
    )
    assert exported.exit_code == 0, exported.output
    documents: dict[str, list[dict[str, str]]] = defaultdict(list)
    with out.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):  # Xero's template marks required columns with '*'
            plain = {name.lstrip("*"): value for name, value in row.items()}
            documents[plain["InvoiceNumber"]].append(plain)
    with Session(engine) as db:
        ours = {inv.number: inv for inv in db.execute(select(Invoice)).scalars()}
    assert len(documents) == 27  # 25 invoices and 2 credit notes
    for number, rows in documents.items():
        invoice = ours[number]
        # Xero is given each line's TaxAmount: the totals are ours, for every document.
        assert xero_totals(rows, use_tax_amount=True) == (invoice.subtotal, invoice.total), number
        if invoice.tax_rounding != PER_INVOICE:  # and per-line documents match even without it
            assert xero_totals(rows, use_tax_amount=False) == (invoice.subtotal, invoice.total), number
    # The old invoice comes out right only because its line taxes are exported.
    assert xero_totals(documents[third], use_tax_amount=False)[1] != ours[third].total


def test_preview_json_shows_kinds_periods_and_reasons(engine: Engine) -> None:
    configure(engine, terms=14)
    alpha = customer(engine, "Alpha Dental")
    old = charge(engine, alpha, "Backup", "50", "2026-01-01")
    run(engine, Period(2026, 11))
    charge(engine, alpha, "NBN 100", "100", "2026-11-12")
    with session_scope(engine) as db:
        charges.end_recurring_charge(
            db=db, actor="cli:test", charge_id=old, end_date="2026-11-20", clock=FixedClock()
        )
    shown = cli(engine, "charges", "preview", "Alpha Dental", "--period", "2026-12", "--json")
    assert shown.exit_code == 0, shown.output
    lines = [
        (ln["kind"], ln["period_start"], ln["period_end"], ln["reason"], ln["amount"])
        for ln in json.loads(shown.output)["lines"]
    ]
    # Backup billed 1-30 Nov, ended 20 Nov: days 21..30 credited, R(50) - R(50·20/30) = 50.00 - 33.33.
    # NBN from 12 Nov: caught up 12..30 Nov (63.33), then December (100.00).
    assert lines == [
        ("credit", "2026-11-21", "2026-11-30", "ended, last day 20 Nov 2026", "-16.67"),
        ("catch_up", "2026-11-12", "2026-11-30", "catch-up", "63.33"),
        ("recurring", "2026-12-01", "2026-12-31", None, "100.00"),
    ]
