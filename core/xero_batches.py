"""Sending to Xero in batches: the Idempotency-Key of a batch, chunking, a few batches at once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from integrations.xero import XeroValidation
from integrations.xero_auth import XeroError

PARALLEL = 4  # batches in flight at once, one below Xero's 5 so a second replica is not starved


T = TypeVar("T")
R = TypeVar("R")


def in_parallel(
    send: Callable[[T], R], batches: list[T], *, workers: int = PARALLEL
) -> list[tuple[T, R | XeroError]]:
    """Send batches a few at a time (Xero allows 5 at once; the budget enforces it across
    replicas), so its latency overlaps and the per-minute limit, not the round trips, sets the
    pace. After a failure other than a validation refusal (Xero down, budget spent, token
    refused) the batches not yet sent are not sent: each gets that failure. Results in order."""
    stop: list[XeroError] = []

    def one(batch: T) -> R | XeroError:
        if stop:
            return stop[0]
        try:
            return send(batch)
        except XeroError as exc:
            if not isinstance(exc, XeroValidation):
                stop.append(exc)
            return exc

    if len(batches) <= 1 or workers <= 1:
        return [(batch, one(batch)) for batch in batches]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xero") as pool:
        return list(zip(batches, pool.map(one, batches), strict=True))


def batch_key(kind: str, items: list[tuple[int, str]]) -> str:
    digest = hashlib.sha256(",".join(f"{i}:{v}" for i, v in items).encode()).hexdigest()
    return f"rebill-{kind}-{digest[:48]}"


def chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
