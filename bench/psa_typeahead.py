"""Type-ahead over 50,000 cached PSA companies through the real endpoint, vs an ack-only request.

Usage: python bench/psa_typeahead.py [--quick] [--companies N] [--requests N] [--postgres URL]
Goal (issue 4): p99 of the options request <= 50 ms and <= 2x a trivial ack-only request.
"""

from __future__ import annotations

import argparse
import random
import time

from _common import database_url, describe, fresh_engine, pct, start_app

from core.clock import SystemClock
from integrations.config import PsaSettings
from models.psa import PsaCompany

WORDS = [
    "Harbour",
    "Coastal",
    "Summit",
    "Pacific",
    "Evergreen",
    "Delta",
    "Bright",
    "Northern",
    "Metro",
    "Outback",
]
TRADES = ["Dental", "Legal", "Motors", "Plumbing", "Accounting", "Logistics", "Builders", "Clinic"]
CITIES = ["Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Hobart"]


def fill(engine, n: int) -> None:  # type: ignore[no-untyped-def]
    now = SystemClock().now()
    rows = []
    for i in range(n):
        name = f"{WORDS[i % 10]} {TRADES[(i // 10) % 8]} {i:05d} Pty Ltd"
        rows.append(
            {
                "psa_kind": "autotask",
                "psa_id": str(i + 1),
                "name": name,
                "name_key": name.casefold(),
                "city": CITIES[i % 6],
                "refreshed_at": now,
            }
        )
    with engine.begin() as connection:
        for start in range(0, n, 5000):
            connection.execute(PsaCompany.__table__.insert(), rows[start : start + 5000])  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE psa_company")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--companies", type=int)
    parser.add_argument("--requests", type=int)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    companies = args.companies or (5_000 if args.quick else 50_000)
    requests = args.requests or (50 if args.quick else 400)
    url = database_url(args.postgres)
    engine = fresh_engine(url)
    fill(engine, companies)
    psa = PsaSettings(
        _env_file=None,
        rebill_psa="autotask",
        autotask_username="u",
        autotask_secret="s",  # type: ignore[call-arg]
        autotask_integration_code="c",
    )
    fake, server, sender = start_app(engine, url, psa=psa)
    view = {"id": "V0BENCH", "type": "modal", "callback_id": "customer_import_pick"}
    rng = random.Random(7)
    typed = [w[: rng.randint(2, 6)].lower() for w in rng.choices(WORDS + TRADES, k=requests)]
    try:
        for text in typed[:20]:
            sender.block_suggestion("psa_company", text, block_id="psa_ref", view=view, wait=False)
            sender.command("help", wait=False)
        options: list[float] = []
        acks: list[float] = []
        for text in typed:
            started = time.perf_counter()
            response = sender.block_suggestion("psa_company", text, block_id="psa_ref", view=view, wait=False)
            options.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.json()["options"], text
            started = time.perf_counter()
            sender.command("help", wait=False)
            acks.append(time.perf_counter() - started)
    finally:
        server.stop()
        fake.stop()
    print(f"database: {engine.dialect.name}, cached companies: {companies}, requests each: {requests}")
    print(describe("options (type-ahead)", options))
    print(describe("/rebill help (ack only)", acks))
    print(f"p99 options = {pct(options, 99) * 1000:.1f} ms (goal <= 50 ms)")
    print(
        f"ratio options/ack: p50 {pct(options, 50) / pct(acks, 50):.2f}x  p99 {pct(options, 99) / pct(acks, 99):.2f}x  (goal <= 2x)"
    )


if __name__ == "__main__":
    main()
