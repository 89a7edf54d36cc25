"""Time is injected so that schedules, caches and due dates can be tested without waiting.

Two kinds of clock: a `Clock` answers "what instant is it" (UTC), and a `BusinessClock` answers
"what day and month is it *for the business*". Every date a user sees (an invoice's issue and due
dates, the month a bill run bills, "overdue since") comes from a `BusinessClock`, so Slack, the CLI
and the scheduler agree at 23:30 UTC on the last day of a month, when Sydney is already a day ahead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The one default business time zone; REBILL_TIMEZONE overrides it (see `zone_named`).
DEFAULT_TIMEZONE: Final = "Australia/Sydney"


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
    value = os.environ.get("REBILL_NOW")
    if not value:
        return SystemClock()
    start = datetime.fromisoformat(value)
    if start.tzinfo is None:
        raise ValueError("REBILL_NOW needs a UTC offset, e.g. 2026-12-01T05:00:00+11:00")
    return OffsetClock(start)


def zone_named(name: str | None) -> ZoneInfo:
    """The business zone from its IANA name (blank means the default); a bad name is a ValueError
    whose text can be shown to a user as it is."""
    text = (name or "").strip() or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{text!r} is not a time zone; use an IANA name such as {DEFAULT_TIMEZONE}") from exc


@dataclass(frozen=True)
class BusinessClock:
    """An instant clock read in the business's time zone: the one answer to "today" and "this month"."""

    clock: Clock
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    @property
    def timezone(self) -> str:
        """The zone's IANA name, for templates and cron triggers that take a name."""
        return self.zone.key

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC): what is stored in the database."""
        return self.clock.now()

    def local_now(self) -> datetime:
        return self.clock.now().astimezone(self.zone)

    def today(self) -> date:
        return self.local_now().date()

    def local_date(self, moment: datetime) -> date:
        """The business day an instant fell on (e.g. when an invoice was sent)."""
        return moment.astimezone(self.zone).date()


def business_clock(clock: Clock | None = None, timezone: str | None = None) -> BusinessClock:
    """The business clock of a process: `REBILL_NOW` and `REBILL_TIMEZONE` unless given."""
    zone = zone_named(timezone if timezone is not None else os.environ.get("REBILL_TIMEZONE"))
    return BusinessClock(clock if clock is not None else clock_from_env(), zone)
