"""Benchmark: push a month of invoices to the fake Xero under its 60-calls-a-minute limit.

    python bench/xero_push.py [--quick] [--postgres URL]

Full size: 2,000 customers and invoices, Xero's real limits (60 a rolling minute, 5 at once), real
time: it takes a little over a minute of wall time and little CPU. --quick shrinks the book to 500
and the "minute" to 4 seconds with 5 calls a window, so the limit still bites.

Printed: the requests made against ⌈invoices / 50⌉ + the contact requests (⌈contacts / 50⌉ batches
plus the one contact list), and the wall time against the least the limit allows for that many
requests (with L calls per rolling window W, request i cannot start before ⌊i / L⌋ x W, so N
requests need at least ⌊(N - 1) / L⌋ x W).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import database_url, fresh_engine
from core import billing_settings, customers, invoices
from core.billrun import run_bill
from core.calculation import Period
from core.charge_validation import validate_recurring_charge
from core.charges import add_recurring_charge
from core.clock import SystemClock
from core.customer_validation import validate_customer
from core.db import session_scope
from core.xero_api import xero_client
from core.xero_budget import CallBudget, Limits
from core.xero_settings import load_settings
from core.xero_sync import push
from core.xero_tokens import current_token
from integrations.xero import BATCH_SIZE
from tests.harness.fake_xero import FakeXero
from tests.harness.xero_setup import xero_config

PERIOD = Period(2026, 12)
ACTOR = "bench"


def book(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as db:
        basics = billing_settings.validate_basics(
            {
                "business_name": "Bench MSP",
                "default_payment_terms_days": "14",
                "invoice_prefix": "INV-",
                "invoice_start_number": "1",
            }
        )
        billing_settings.save_basics(db, basics, actor=ACTOR, clock=SystemClock())
        for i in range(count):
            row = customers.create(
                db,
                validate_customer(
                    {"company_name": f"Customer {i:05d} Pty Ltd", "email": f"ap{i}@example.com"}
                ),
                actor=ACTOR,
                clock=SystemClock(),
            )
            for description, price, qty in (("M365 seat", "8.35", str(1 + i % 9)), ("Backup", "0.15", "3")):
                data = validate_recurring_charge(
                    description=description,
                    unit_price=price,
                    quantity=qty,
                    frequency="monthly",
                    effective_from="2026-01-01",
                )
                add_recurring_charge(db=db, actor=ACTOR, customer_id=row.id, data=data, clock=SystemClock())
        settings = load_settings(db)
        settings.account_code, settings.tax_type_taxable, settings.tax_type_free = (
            "200",
            "OUTPUT",
            "EXEMPTOUTPUT",
        )
    run_bill(engine=engine, period=PERIOD, actor=ACTOR, clock=SystemClock())
    with session_scope(engine) as db:
        for invoice in invoices.list_invoices(db=db, period=PERIOD):
            invoices.approve(db=db, ref=invoice.id or 0, actor=ACTOR, clock=SystemClock())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", help="PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    count = 500 if args.quick else 2000
    per_window, window = (5, timedelta(seconds=4)) if args.quick else (60, timedelta(minutes=1))
    url = database_url(args.postgres)
    engine = fresh_engine(url)
    print(f"building {count} customers and approved invoices on {engine.dialect.name}...", flush=True)
    book(engine, count)

    fake = FakeXero(minute_limit=per_window, window=window).start()
    clock = SystemClock()
    limits = Limits(per_minute=per_window, window=window, margin=window / 120)
    try:
        with xero_client(
            engine=engine,
            config=xero_config(fake),
            clock=clock,
            budget=CallBudget(engine, clock=clock, limits=limits),
        ) as client:
            current_token(engine, client.config, clock=clock)  # the token and tenant (no API call), untimed
            calls_before = len(fake.api_calls())
            started = time.perf_counter()
            origin = time.monotonic()
            cpu = time.process_time()
            report = push(engine, client, clock=clock)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu
        arrivals = [c.at - origin for c in fake.api_calls()[calls_before:]]
        requests = len(fake.api_calls()) - calls_before
    finally:
        fake.stop()
    pushed = len(report.pushed)
    contacts = len(fake.contacts)
    expected = math.ceil(pushed / BATCH_SIZE) + math.ceil(contacts / BATCH_SIZE) + 1
    minimum = ((requests - 1) // per_window) * window.total_seconds()
    totals_equal = sum(1 for d in fake.invoices() if d.total > Decimal(0))
    print(
        f"invoices pushed            {pushed} of {count} ({len(report.failed)} failed, {len(report.exceptions)} exceptions)"
    )
    print(f"contacts created           {contacts}")
    print(f"requests made              {requests}")
    print(
        f"⌈invoices/50⌉ + contacts   {expected}  (= {math.ceil(pushed / BATCH_SIZE)} invoice batches + "
        f"{math.ceil(contacts / BATCH_SIZE)} contact batches + 1 contact list; plus one read of the organisation)"
    )
    print(f"  ratio                    {requests / expected:.3f}  (target ≤ 1.1)")
    print(f"limit                      {per_window} calls per {window.total_seconds():g} s, 5 at once")
    print(f"wall time                  {wall:.1f} s  (CPU {cpu:.1f} s)")
    print(f"minimum the limit allows   {minimum:.1f} s")
    ratio = wall / minimum if minimum else float("nan")
    print(f"  ratio                    {ratio:.3f}  (target ≤ 1.2)")
    late = requests - per_window
    if late > 0:  # the first `late` requests' spread is what the last ones wait on, a window later
        print(
            f"pacing                     request 1 at {arrivals[0]:.1f} s, request {late} at "
            f"{arrivals[late - 1]:.1f} s, request {per_window} at {arrivals[per_window - 1]:.1f} s, "
            f"the last at {arrivals[-1]:.1f} s"
        )
    print(
        f"429s from Xero             {len(fake.refusals)}  (our budget waited {client.budget.waited:.1f} s)"
    )
    print(f"max calls in flight        {fake.max_in_flight}")
    print(f"invoices in Xero           {totals_equal}")


if __name__ == "__main__":
    main()
