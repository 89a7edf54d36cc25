"""The bill run over a big book vs the floor: raw Core inserts of the same invoice rows.

Usage: python bench/billrun.py [--quick] [--customers N] [--sizes 10000,100000] [--postgres URL]

Each customer has 10 monthly charges and 1 once-off item, so the run writes 1 invoice and 11 lines
per customer. The floor is one SQLAlchemy Core executemany of as many invoice rows and one of as
many invoice_line rows (prebuilt in memory, not timed), in the same database: what the run could
never beat with the same statements. (On PostgreSQL the run writes its rows with COPY, see
core.bulk_insert, which is faster than this executemany: there the floor is a yardstick, not a
bound.) Goal (issue "Invoices"): run / floor <= 3x.
Memory: each size in --sizes is billed in a child process that reports its own peak RSS, read
from /proc/self/status VmHWM: the whole child process, and the bill-run phase alone. (Not
getrusage's ru_maxrss, which Linux carries across fork + exec, so it used to report the parent's
peak from building the book.) Goal: flat, <= 250 MB.
Each figure is printed with the machine's load average: on a machine whose CPUs are busy with other
work the wall-clock ratio swings (seen: 1.8x to 3x for one build), so compare figures taken under
similar load. The client CPU seconds (this process's own, not the database server's) vary less.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from _common import database_url, fresh_engine, peak_rss_mb, reset_peak_rss, rss_mb
from sqlalchemy import func, insert, select

from core import billing_settings
from core.billrun import run_bill
from core.calculation import Period
from core.clock import SystemClock
from core.db import make_engine, session_scope
from models.charges import OnceOffItem, RecurringCharge
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine

PERIOD = Period(2026, 12)
CHUNK = 5_000


def fill(engine, n: int) -> None:  # type: ignore[no-untyped-def]
    """n customers with 10 charges and 1 once-off item each, inserted with Core in chunks."""
    now = SystemClock().now()
    with session_scope(engine) as db:
        basics = billing_settings.validate_basics(
            {
                "business_name": "Bench MSP",
                "default_payment_terms_days": "14",
                "invoice_prefix": "INV-",
                "invoice_start_number": "1",
            }
        )
        billing_settings.save_basics(db, basics, actor="bench", clock=SystemClock())
    stamp = {"created_by": "bench", "updated_by": "bench", "created_at": now, "updated_at": now}
    for start in range(0, n, CHUNK):
        with session_scope(engine) as db:
            first_id = start + 1
            ids = range(first_id, min(start + CHUNK, n) + 1)
            db.execute(
                insert(EndCustomer),
                [
                    {
                        "id": i,
                        "company_name": f"Bench {i:06d}",
                        "name_key": f"bench {i:06d}",
                        "email": f"ap{i}@x.example",
                        "psa_inactive": False,
                        **stamp,
                    }
                    for i in ids
                ],
            )
            db.execute(
                insert(RecurringCharge),
                [
                    {
                        "customer_id": i,
                        "description": f"Licence {k}",
                        "unit_price": Decimal("12.3456"),
                        "quantity": Decimal(k + 1),
                        "frequency": "monthly",
                        "effective_from": date(2026, 1, 1),
                        "taxable": k != 9,
                        **stamp,
                    }
                    for i in ids
                    for k in range(10)
                ],
            )
            db.execute(
                insert(OnceOffItem),
                [
                    {
                        "customer_id": i,
                        "description": "Setup",
                        "unit_price": Decimal("99.95"),
                        "quantity": Decimal(1),
                        "item_date": date(2026, 11, 20),
                        "taxable": True,
                        **stamp,
                    }
                    for i in ids
                ],
            )
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")


def floor(engine, n: int, lines_per_invoice: int = 11) -> float:  # type: ignore[no-untyped-def]
    """Seconds to insert n invoices and their lines with one Core executemany each (rows prebuilt)."""
    return floor_times(engine, n, lines_per_invoice)[0]


def floor_times(engine, n: int, lines_per_invoice: int = 11) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """`floor`'s seconds: wall clock, and this process's CPU (the client's share of the work)."""
    with session_scope(engine) as db:
        base = db.execute(select(func.coalesce(func.max(Invoice.id), 0))).scalar_one() + 1
    now = SystemClock().now()
    invoices = [
        {
            "id": base + i,
            "customer_id": i + 1,
            "period": "2027-01",
            "number": f"FLOOR-{i:06d}",
            "series": "FLOOR-",
            "sequence": i,
            "issue_date": date(2027, 1, 1),
            "due_date": date(2027, 1, 15),
            "status": "draft",
            "currency": "AUD",
            "subtotal": Decimal("778.20"),
            "tax": Decimal("70.00"),
            "total": Decimal("848.20"),
            "tax_rate": Decimal("0.1"),
            "tax_rounding": "per-line-half-up",
            "doc_type": "invoice",  # the ledger's columns (issue 12): written by the run, so by the floor
            "credits_invoice_id": None,
            "reason": None,
            "payment_terms_days": 14,
            "customer_name": f"Bench {i + 1:06d}",
            "customer_email": f"ap{i + 1}@x.example",
            "created_at": now,
            "created_by": "bench",
            "updated_at": now,
        }
        for i in range(n)
    ]
    lines = [
        {
            "invoice_id": base + i,
            "position": k + 1,
            "kind": "recurring",
            "source_id": k,
            "description": f"Licence {k} (1 Jan – 31 Jan 2027)",
            "quantity": Decimal(k + 1),
            "unit_price": Decimal("12.3456"),
            "amount": Decimal("12.35"),
            "taxable": True,
            "period_start": date(2027, 1, 1),
            "period_end": date(2027, 1, 31),
            "charge_id": k,
            "charge_version": 1,
            "reason": None,
            "tax": Decimal("1.24"),
            "credits_line_id": None,
        }
        for i in range(n)
        for k in range(lines_per_invoice)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(engine) as db:
        db.execute(insert(Invoice), invoices)
        db.execute(insert(InvoiceLine), lines)
    return time.perf_counter() - started, time.process_time() - cpu


def child(url: str, batch_size: int) -> None:
    """Run the bill in this (fresh) process and print its time and peak RSS as JSON.

    Memory is this process's own (`VmHWM`, see `_common.peak_rss_mb`): the peak of the whole
    process, and the peak of the bill-run phase alone (high-water mark reset after the imports).
    """
    engine = make_engine(url)
    startup_peak = peak_rss_mb()
    startup_rss = rss_mb()
    phase = reset_peak_rss()
    started, cpu = time.perf_counter(), time.process_time()
    result = run_bill(engine=engine, period=PERIOD, actor="bench", clock=SystemClock(), batch_size=batch_size)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    run_peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "created": result.created,
                "rss_mb": max(startup_peak, run_peak),
                "startup_rss_mb": startup_rss,
                "run_rss_mb": run_peak if phase else None,
                "total": str(result.total),
            }
        )
    )


def describe_memory(run: dict) -> str:  # type: ignore[type-arg]
    """ "peak RSS 120 MB (bill-run phase 118 MB, 85 MB of it there before the first batch)"."""
    text = f"peak RSS {run['rss_mb']:.0f} MB"
    if run["run_rss_mb"] is not None and run["startup_rss_mb"] is not None:
        text += (
            f" (bill-run phase {run['run_rss_mb']:.0f} MB, of which {run['startup_rss_mb']:.0f} MB "
            "was imports and engine before the first batch)"
        )
    return text


def machine_load() -> str:
    """ "load 1.2 (1 min) on 2 CPUs": how busy the machine was when a figure was taken."""
    try:
        one_minute = os.getloadavg()[0]
    except OSError:
        return "load unknown"
    cpus = os.cpu_count() or 1
    return f"load {one_minute:.1f} (1 min) on {cpus} CPUs{', BUSY' if one_minute >= cpus else ''}"


def run_child(url: str, batch_size: int) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, "--batch-size", str(batch_size)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--sizes", help="comma-separated book sizes for the memory check, e.g. 10000,100000")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--postgres", help="postgresql+psycopg:// URL of an empty database to use")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch_size)
        return
    n = args.customers or (500 if args.quick else 10_000)
    urls = [database_url(None)] + ([args.postgres] if args.postgres else [])
    for url in urls:
        engine = fresh_engine(url)
        fill(engine, n)
        run_load = machine_load()
        run = run_child(url, args.batch_size)
        assert run["created"] == n, run
        floor_load = machine_load()
        floor_seconds, floor_cpu = floor_times(engine, n)
        engine.dispose()
        print(f"database: {engine.dialect.name}, customers: {n:,} x (10 charges + 1 once-off)")
        print(
            f"  bill run             {run['seconds']:8.2f} s  ({n / run['seconds']:,.0f} invoices/s), "
            f"client CPU {run['cpu']:.2f} s, {run_load} before; {describe_memory(run)}"
        )
        print(
            f"  floor (Core inserts) {floor_seconds:8.2f} s, client CPU {floor_cpu:.2f} s, {floor_load} before"
        )
        print(f"  ratio run/floor      {run['seconds'] / floor_seconds:8.2f}x  (goal <= 3x)")
        for size in [int(s) for s in args.sizes.split(",")] if args.sizes else []:
            engine = fresh_engine(url)
            fill(engine, size)
            engine.dispose()
            sized = run_child(url, args.batch_size)
            print(
                f"  memory: {size:>7,} customers -> {describe_memory(sized)} "
                f"in {sized['seconds']:.1f} s (goal flat, <= 250 MB)"
            )


if __name__ == "__main__":
    main()
