"""Time is injected so that schedules, caches and due dates can be tested without waiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """Real time shifted to start at a chosen moment: `REBILL_NOW` for demos and process tests."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def clock_from_env() -> Clock:
    """`REBILL_NOW=2026-12-01T05:00:00+11:00` makes a process believe it is that time."""
    import os

    value = os.environ.get("REBILL_NOW")
    if not value:
        return SystemClock()
    start = datetime.fromisoformat(value)
    if start.tzinfo is None:
        raise ValueError("REBILL_NOW needs a UTC offset, e.g. 2026-12-01T05:00:00+11:00")
    return OffsetClock(start)
