"""Usage import and a bill run with usage, against their goals (issue 16).

Usage: python bench/usage_import.py [--quick] [--rows N] [--sizes 100000,1000000] [--parts 1,2,3]
                                    [--customers N] [--usage-per-customer K] [--postgres URL]

1. Import speed: N usage rows (default 1,000,000; --quick 20,000) imported with `core.usage_import`
   against reading and parsing the same file with the `csv` module alone, in the same process.
   Goal: import / csv <= 3x. Also printed: the importer's reading and checking alone (no writes),
   each figure's CPU time in this process (steadier than wall time on a shared machine; on
   PostgreSQL the server's own work is not in it), and the write floor: the same checked rows,
   built before the clock starts, inserted by the importer's own writer (`core.usage_writer`)
   and rolled back, which the import can never beat.
2. Memory: each size in --sizes (default 100,000 and 1,000,000; --quick 2,000 and 20,000) is
   imported in a child process into a fresh database; the child reports its own peak RSS
   (/proc/self/status VmHWM, see _common). Goal: flat, <= 250 MB.
3. Bill run with usage: the bill-run bench's book (10 charges + 1 once-off a customer; default
   10,000 customers, --quick 500) plus K usage rows a customer (default 10) in the month before,
   billed in a child process, against the bill run's floor (Core inserts of the invoices and
   lines, from bench/billrun.py, here with the 3 usage lines too, so the floor writes what the run
   writes). Goal: the bill run's own, run / floor <= 3x.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import database_url, fresh_engine, peak_rss_mb, reset_peak_rss, rss_mb
from billrun import describe_memory, fill, floor, run_child

from core.clock import SystemClock
from core.db import make_engine, session_scope
from core.usage_import import import_usage
from models.system import BillingSettings

HEADER = ["usage_id", "customer", "date", "description", "quantity", "unit_cost", "unit_price", "taxable"]
KINDS = (
    ("Calls to mobiles", "0.0450", "0.09"),
    ("National calls", "0.0200", ""),
    ("Data (GB)", "1.1000", ""),
)


def write_file(path: Path, rows: int, customers: int) -> None:
    """`rows` usage rows spread over `customers` (named as bench/billrun.py names them), November."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in range(rows):
            description, cost, price = KINDS[n % 3]
            writer.writerow(
                [
                    f"U{n:09d}",
                    f"Bench {n % customers + 1:06d}",
                    f"2026-11-{n % 30 + 1:02d}",
                    description,
                    f"{n % 17 + 1}.5",
                    cost,
                    price,
                    "yes" if n % 5 else "no",
                ]
            )


def set_margin(engine) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as db:
        settings = db.get(BillingSettings, 1)
        assert settings is not None
        settings.default_margin_percent = Decimal("20")


def csv_only(path: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, rows) to read and split every row with the csv module alone."""
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    with path.open(newline="", encoding="utf-8-sig") as source:
        for _row in csv.reader(source):
            count += 1
    return time.perf_counter() - started, time.process_time() - cpu, count - 1


def parse_only(engine, path: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The importer's reading, parsing and checking of every row (lookups included), no writing:
    the part of the import comparable to the csv module alone. (wall, CPU) seconds."""
    from core.usage_import import STANDARD
    from core.usage_rows import RowParser

    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(engine) as db, path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.reader(source)
        parse = RowParser(db, STANDARD, next(reader)).parse
        for number, cells in enumerate(reader, start=2):
            parse(number, cells)
        db.rollback()
    return time.perf_counter() - started, time.process_time() - cpu


def write_floor(engine, path: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(wall, CPU) seconds the importer's writer takes to insert the file's rows, checked before
    the clock starts (batch by batch, so memory stays flat), in one transaction rolled back."""
    from core.usage_import import BATCH, STANDARD
    from core.usage_rows import RowParser
    from core.usage_writer import UsageWriter

    wall = cpu = 0.0
    with session_scope(engine) as db, path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.reader(source)
        parse = RowParser(db, STANDARD, next(reader)).parse
        writer = UsageWriter(
            db, source=STANDARD.source, import_ref="floor", created_at=SystemClock().now(), actor="bench"
        )
        batch: list[Any] = []
        for number, cells in enumerate(reader, start=2):
            batch.append(parse(number, cells))
            if len(batch) == BATCH:
                wall, cpu = _timed_insert(writer, batch, wall, cpu)
                batch = []
        wall, cpu = _timed_insert(writer, batch, wall, cpu)
        writer.finish()
        db.rollback()
    return wall, cpu


def _timed_insert(writer, batch: list[Any], wall: float, cpu: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    started, cpu_started = time.perf_counter(), time.process_time()
    writer.insert(batch)
    return wall + time.perf_counter() - started, cpu + time.process_time() - cpu_started


def child(url: str, path: str) -> None:
    """Import the file in this fresh process; print times and this process's peak RSS as JSON."""
    engine = make_engine(url)
    baseline, baseline_cpu, rows = csv_only(Path(path))
    parse_seconds, parse_cpu = parse_only(engine, Path(path))
    startup = rss_mb()
    phase = reset_peak_rss()
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(engine) as db, open(path, newline="", encoding="utf-8-sig") as source:
        report = import_usage(db, source, actor="bench", clock=SystemClock(), file_name="bench.csv")
    seconds, import_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.ok and report.added == rows, (report.error_count, report.errors[:3], report.added, rows)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": import_cpu,
                "csv_seconds": baseline,
                "csv_cpu": baseline_cpu,
                "parse_seconds": parse_seconds,
                "parse_cpu": parse_cpu,
                "rows": rows,
                "startup_rss_mb": startup,
                "run_rss_mb": peak_rss_mb() if phase else None,
                "rss_mb": peak_rss_mb(),
            }
        )
    )


def import_child(url: str, path: Path, mode: str = "--child") -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, __file__, mode, url, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def book(url: str, customers: int):  # type: ignore[no-untyped-def]
    engine = fresh_engine(url)
    fill(engine, customers)
    set_margin(engine)
    return engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--sizes", help="comma-separated row counts for the memory check")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--usage-per-customer", type=int, default=10)
    parser.add_argument("--postgres", help="postgresql+psycopg:// URL of an empty database to use")
    parser.add_argument("--parts", default="1,2,3", help="which of 1 (speed), 2 (memory), 3 (bill run)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.floor_child:
        seconds, cpu = write_floor(make_engine(args.floor_child[0]), Path(args.floor_child[1]))
        print(json.dumps({"floor_seconds": seconds, "floor_cpu": cpu}))
        return
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([2_000, 20_000] if args.quick else [100_000, 1_000_000])
    )
    customers = args.customers or (500 if args.quick else 10_000)
    parts = {int(p) for p in args.parts.split(",")}
    folder = Path(tempfile.mkdtemp(prefix="rebill-usage-bench-"))
    for url in [database_url(None)] + ([args.postgres] if args.postgres else []):
        name = make_engine(url).dialect.name
        print(f"database: {name}")
        run = None
        if 1 in parts:  # 1. speed, in a child so 2. can reuse its figures when the sizes agree
            path = folder / f"usage-{rows}.csv"
            write_file(path, rows, 1_000)
            book(url, 1_000).dispose()
            run = import_child(url, path)
            book(url, 1_000).dispose()  # the floor on the same fresh book, in a process of its own
            print_speed(rows, run | import_child(url, path, "--floor-child"))
        if 2 in parts:  # 2. memory: flat in the file size
            for size in sizes:
                if size == rows and run is not None:
                    sized = run
                else:
                    sized_path = folder / f"usage-{size}.csv"
                    write_file(sized_path, size, 1_000)
                    book(url, 1_000).dispose()
                    sized = import_child(url, sized_path)
                print(
                    f"  memory: {size:>9,} rows -> peak RSS {sized['rss_mb']:.0f} MB (import phase "
                    f"{sized['run_rss_mb'] or 0:.0f} MB, {sized['startup_rss_mb'] or 0:.0f} MB of it there "
                    f"before the first row) in {sized['seconds']:.1f} s (goal flat, <= 250 MB)"
                )
        if 3 in parts:  # 3. bill run with usage
            bill_run(url, folder, customers, args.usage_per_customer)


def print_speed(rows: int, run: dict[str, Any]) -> None:
    wall, cpu = run["csv_seconds"], run["csv_cpu"]
    print(
        f"  import {rows:>9,} rows  {run['seconds']:8.2f} s ({rows / run['seconds']:,.0f} rows/s)  "
        f"csv module alone {wall:6.2f} s  ratio {run['seconds'] / wall:5.2f}x (goal <= 3x)"
    )
    print(
        f"    CPU of this process: import {run['cpu']:.2f} s, csv alone {cpu:.2f} s, ratio {run['cpu'] / cpu:5.2f}x"
    )
    print(
        f"    of which reading, parsing and checking rows (no writes) {run['parse_seconds']:6.2f} s, "
        f"ratio {run['parse_seconds'] / wall:5.2f}x (CPU {run['parse_cpu'] / cpu:5.2f}x); the rest is writing them"
    )
    print(
        f"    write floor (the checked rows, built beforehand, through the importer's writer) "
        f"{run['floor_seconds']:6.2f} s, ratio {run['floor_seconds'] / wall:5.2f}x (CPU {run['floor_cpu'] / cpu:5.2f}x); "
        f"import / floor {run['seconds'] / run['floor_seconds']:.2f}x"
    )


def bill_run(url: str, folder: Path, customers: int, per_customer: int) -> None:
    engine = book(url, customers)
    usage = folder / f"billrun-usage-{customers}.csv"
    write_file(usage, customers * per_customer, customers)
    with session_scope(engine) as db, usage.open(newline="", encoding="utf-8") as source:
        assert import_usage(db, source, actor="bench", clock=SystemClock()).ok
    billed = run_child(url, 200)
    assert billed["created"] == customers, billed
    # The floor writes what the run writes: each invoice and all its lines, the 3 usage lines too.
    floor_seconds = floor(engine, customers, lines_per_invoice=11 + len(KINDS))
    engine.dispose()
    print(
        f"  bill run {customers:,} customers x (10 charges + 1 once-off + {per_customer} usage rows "
        f"-> 3 usage lines)  {billed['seconds']:.2f} s, {describe_memory(billed)}"
    )
    print(
        f"  floor (Core inserts of the invoices and their 14 lines) {floor_seconds:.2f} s   ratio run/floor {billed['seconds'] / floor_seconds:.2f}x (goal <= 3x)"
    )


if __name__ == "__main__":
    main()
