from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import DEFAULT_TIMEZONE, BusinessClock


class _Manual:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


class FixedClock(BusinessClock):
    """A business clock (the default zone unless given) that moves only when the test says so.

    It is a real `BusinessClock`, so code under test reads "today" exactly as in production; only
    the instant underneath is the test's.
    """

    def __init__(self, now: datetime | None = None, zone: ZoneInfo | None = None) -> None:
        object.__setattr__(self, "clock", _Manual(now or datetime(2026, 11, 25, 9, 0, tzinfo=UTC)))
        object.__setattr__(self, "zone", zone or ZoneInfo(DEFAULT_TIMEZONE))

    def advance(self, **delta: float) -> None:
        self.clock.at += timedelta(**delta)

    def set(self, now: datetime) -> None:
        self.clock.at = now


BUSINESS_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # the zone every test book bills in (REBILL_TIMEZONE's default)
