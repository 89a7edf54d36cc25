"""`/rebill customers acme` over 10,000 customers vs an ack-only command, through the real endpoint.

Usage: python bench/customers_list.py [--quick] [--customers N] [--requests N] [--postgres URL]
Goal (issue 3): p99 ratio list/ack <= 1.5 and p99 well under Slack's 3 s.
"""

from __future__ import annotations

import argparse
import time

from _common import database_url, describe, fresh_engine, pct, start_app

from core import billing_settings
from core.clock import SystemClock
from core.db import session_scope
from models.customers import EndCustomer


def fill(engine, n: int) -> None:  # type: ignore[no-untyped-def]
    words = ["Acme", "Bright", "Coastal", "Delta", "Evergreen", "Summit", "Harbour", "Pacific"]
    now = SystemClock().now()
    with session_scope(engine) as db:
        basics = billing_settings.validate_basics(
            {
                "business_name": "Bench MSP",
                "default_payment_terms_days": "30",
                "invoice_prefix": "INV-",
                "invoice_start_number": "1",
            }
        )
        billing_settings.save_basics(db, basics, actor="bench", clock=SystemClock())
        rows = []
        for i in range(n):
            name = f"{words[i % len(words)]} {['Plumbing', 'Dental', 'Legal', 'Motors'][i % 4]} {i:05d}"
            rows.append(
                {
                    "company_name": name,
                    "name_key": name.casefold(),
                    "email": None if i % 9 == 0 else f"ap{i}@x.example",
                    "created_by": "bench",
                    "updated_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                    "psa_inactive": False,
                }
            )
        db.execute(EndCustomer.__table__.insert(), rows)  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:  # what autovacuum would do after a bulk load
            connection.exec_driver_sql("ANALYZE end_customer")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--postgres", help="postgresql+psycopg:// URL of an empty database to use")
    args = parser.parse_args()
    customers = args.customers or (1_000 if args.quick else 10_000)
    requests = args.requests or (50 if args.quick else 400)

    url = database_url(args.postgres)
    engine = fresh_engine(url)
    fill(engine, customers)
    fake, server, sender = start_app(engine, url)
    try:
        for _ in range(20):  # warm up both paths
            sender.command("customers acme", wait=False)
            sender.command("help", wait=False)
        lists: list[float] = []
        acks: list[float] = []
        for _ in range(requests):
            for text, samples in (("customers acme", lists), ("help", acks)):
                started = time.perf_counter()
                response = sender.command(text, wait=False)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        shown = response.json()
    finally:
        server.stop()
        fake.stop()
    print(f"database: {engine.dialect.name}, customers: {customers}, requests each: {requests}")
    print(describe("/rebill customers acme", lists))
    print(describe("/rebill help (ack only)", acks))
    ratio50 = pct(lists, 50) / pct(acks, 50)
    ratio99 = pct(lists, 99) / pct(acks, 99)
    print(f"ratio list/ack: p50 {ratio50:.2f}x  p99 {ratio99:.2f}x  (goal p99 <= 1.5x)")
    print(f"p99 list = {pct(lists, 99) * 1000:.1f} ms vs Slack's 3000 ms budget")
    assert shown is not None


if __name__ == "__main__":
    main()
