"""Benchmark: a full PSA cache refresh from the fake Autotask vs a bare httpx loop over the same pages.

    python bench/psa_sync.py [--quick]

The fake server runs in a child process, so its own work (building 50,000 companies, JSON-encoding
pages) neither competes for our GIL nor shows up in our tracemalloc figures. Both contenders fetch
the same pages from the same server in the same run; the refresh additionally maps every company,
reads Countries and ThresholdInformation, and writes everything to a temporary SQLite database.
Peak memory is measured for two sizes to show it does not grow with the number of companies.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

import models
from core.clock import SystemClock
from core.db import make_engine
from core.psa_cache import refresh_cache
from integrations.autotask import ACTIVE_CUSTOMERS, COMPANY_FIELDS, AutotaskClient
from tests.harness.fake_psa import FakeAutotask, make_companies


def serve(count: int, conn: Connection) -> None:
    """Child process: run a fake Autotask with `count` companies until the parent says stop."""
    with FakeAutotask(make_companies(count)) as fake:
        conn.send((fake.zone_url, fake.username, fake.secret, fake.integration_code))
        conn.recv()


class Server:
    def __init__(self, count: int) -> None:
        self._parent, child = mp.Pipe()
        self._proc = mp.Process(target=serve, args=(count, child), daemon=True)
        self._proc.start()
        self.zone_url, self.username, self.secret, self.code = self._parent.recv()

    def stop(self) -> None:
        self._parent.send("stop")
        self._proc.join(5)


def bare_loop(server: Server) -> int:
    """The floor: the same POSTed pages with nothing done to them but JSON decoding."""
    headers = {"UserName": server.username, "Secret": server.secret, "ApiIntegrationCode": server.code}
    body = {
        "MaxRecords": 500,
        "IncludeFields": COMPANY_FIELDS,
        "Filter": [{"op": "and", "items": ACTIVE_CUSTOMERS}],
    }
    count = 0
    with httpx.Client(headers=headers, timeout=60) as http:
        url: str | None = server.zone_url + "V1.0/Companies/query"
        while url:
            payload = http.post(url, json=body).json()
            count += len(payload["items"])
            url = payload["pageDetails"]["nextPageUrl"]
    return count


def full_sync(server: Server) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        models.metadata.create_all(engine)
        client = AutotaskClient(
            username=server.username,
            secret=server.secret,
            integration_code=server.code,
            zone_url=server.zone_url,
            timeout=60,
        )
        with client:
            result = refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=SystemClock())
        engine.dispose()
        return result.company_count


def timed(fn: Callable[[Server], int], server: Server) -> tuple[float, int]:
    started = time.perf_counter()
    count = fn(server)
    return time.perf_counter() - started, count


def peak_memory(fn: Callable[[Server], Any], server: Server) -> float:
    tracemalloc.start()
    try:
        fn(server)
        return tracemalloc.get_traced_memory()[1] / 1_048_576
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 companies instead of 50,000")
    args = parser.parse_args()
    size = 2_000 if args.quick else 50_000
    mem_sizes = (1_000, 2_000) if args.quick else (10_000, 50_000)

    server = Server(size)
    try:
        bare_loop(server)  # warm up: connections, imports, the fake's first render
        bare_runs, sync_runs = [], []
        for _ in range(3):  # interleaved, best of three: the machine may be busy with other work
            bare_runs.append(timed(bare_loop, server))
            sync_runs.append(timed(full_sync, server))
        bare, bare_count = min(bare_runs)
        sync, sync_count = min(sync_runs)
    finally:
        server.stop()
    print(f"companies in fake Autotask: {size:,} ({bare_count:,} active customers fetched)")
    print(f"bare httpx loop:  {bare:6.2f} s")
    print(f"full sync:        {sync:6.2f} s  ({sync_count:,} cached)")
    print(f"ratio:            {sync / bare:6.2f}x  (goal <= 2x)")

    for n in mem_sizes:
        server = Server(n)
        try:
            mib = peak_memory(full_sync, server)
        finally:
            server.stop()
        print(f"peak memory (tracemalloc), full sync of {n:>6,}: {mib:6.1f} MiB")


if __name__ == "__main__":
    main()
