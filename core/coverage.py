"""The billing ledger's arithmetic: which days of a charge live documents cover, as day spans. Pure.

Why a ledger: computing each month on its own forgets what was billed, so a charge added after its
month was invoiced, or ended back into billed days, is silently lost or overcharged. The ledger is
the invoice lines themselves: a line with a `charge_id` on a live (not void) document says "these
days of this charge were billed at this price and quantity" (a positive amount) or "credited" (a
negative one). Voiding a document releases its lines; nothing else has to be undone.

The bill run asks, per charge: which days are owed (its life, cut by its service's, priced by the
version in force each day) but not covered (bill them), and which covered days are no longer owed,
or were billed at another version (credit them at what was billed). `core.calculation` turns the
answers into priced, labelled lines; this module only does the day arithmetic.

Spans are (first day, last day), both inclusive; lists of spans are kept sorted and disjoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

Span = tuple[date, date]
_DAY = timedelta(days=1)
OPEN_END = date(9999, 12, 30)  # "no end date": one day short of date.max, so end + 1 day still exists


@dataclass(frozen=True)
class Version:
    """A charge's price and quantity from `start` on (until the next version starts)."""

    number: int
    start: date
    unit_price: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class Covered:
    """One ledger entry: a line of a live document that billed (or credited) days of a charge.

    `quantity` is the billed quantity (positive even on a credit line); `credit` says which way.
    """

    charge_id: int
    start: date
    end: date
    unit_price: Decimal
    quantity: Decimal
    version: int
    credit: bool


@dataclass(frozen=True)
class Segment:
    """Days covered (or owed) at one version's price and quantity."""

    start: date
    end: date
    version: Version
    count: int = 1  # times billed minus times credited (see net_coverage)

    @property
    def span(self) -> Span:
        return (self.start, self.end)


def normalise(spans: Iterable[Span]) -> list[Span]:
    """Sorted, disjoint, with touching spans merged; empty spans (end < start) dropped."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[0] <= s[1]):
        if merged and start <= merged[-1][1] + _DAY:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(spans: Iterable[Span], remove: Iterable[Span]) -> list[Span]:
    """The days of `spans` not in `remove`."""
    cuts = normalise(remove)
    result: list[Span] = []
    for start, end in normalise(spans):
        cursor = start
        for cut_start, cut_end in cuts:
            if cut_end < cursor or cut_start > end:
                continue
            if cut_start > cursor:
                result.append((cursor, cut_start - _DAY))
            cursor = max(cursor, cut_end + _DAY)
            if cursor > end:
                break
        if cursor <= end:
            result.append((cursor, end))
    return result


def intersect(spans: Iterable[Span], keep: Iterable[Span]) -> list[Span]:
    """The days of `spans` that are also in `keep`."""
    left = normalise(spans)
    return subtract(left, subtract(left, keep))


def days_in(spans: Iterable[Span]) -> int:
    return sum((end - start).days + 1 for start, end in normalise(spans))


def net_coverage(entries: Sequence[Covered], versions: Sequence[Version]) -> list[Segment]:
    """What the live documents cover: per day, how many times more billed than credited, by version.

    Counting, not ordering: a day billed, credited and billed again (a charge ended back, then
    extended) is covered once; a day billed at one version and credited at it is free, whatever
    was billed after. Entries count per (version, price, quantity): a credit releases only what was
    billed at that price. A count is normally 1; it is negative when the invoice a credit released
    was voided afterwards (the caller bills the credit back), and never above 1 unless two live
    documents billed the same day (the caller credits the extra). A billed line whose price and
    quantity are not its version's (a version since rewritten) stands for a version of its own that
    no owed day has, so it is credited and billed again at the version in force. The stand-in keeps
    the line's version number (its start, `date.min`, is what no owed version has): the credit line
    is stored under that number and price, so on the next run it nets with the bill it reverses
    instead of starting a group of its own that would be "billed back" and credited again forever.
    """
    by_number = {v.number: v for v in versions}
    groups: dict[tuple[int, Decimal, Decimal], tuple[list[Span], list[Span]]] = {}
    for entry in entries:
        billed, credited = groups.setdefault((entry.version, entry.unit_price, entry.quantity), ([], []))
        (credited if entry.credit else billed).append((entry.start, entry.end))
    segments: list[Segment] = []
    for (number, unit_price, quantity), (billed, credited) in groups.items():
        version = by_number.get(number)
        if version is None or (version.unit_price, version.quantity) != (unit_price, quantity):
            version = Version(number, date.min, unit_price, quantity)
        for start, end, count in _counts(billed, credited):
            segments.append(Segment(start, end, version, count))
    return sorted(segments, key=lambda s: (s.start, s.version.number))


def _counts(billed: Sequence[Span], credited: Sequence[Span]) -> list[tuple[date, date, int]]:
    """Runs of days with the same non-zero (times billed - times credited): a sweep over boundaries."""
    events: dict[date, int] = {}
    for spans, sign in ((billed, 1), (credited, -1)):
        for start, end in spans:
            events[start] = events.get(start, 0) + sign
            events[end + _DAY] = events.get(end + _DAY, 0) - sign
    result: list[tuple[date, date, int]] = []
    count = 0
    opened = date.min
    for day in sorted(events):
        if count and events[day]:
            result.append((opened, day - _DAY, count))
        if events[day]:
            count += events[day]
            opened = day
    return result


def owed_segments(versions: Sequence[Version], window: Span | None) -> list[Segment]:
    """The charge's days inside `window`, each at the version in force that day."""
    if window is None:
        return []
    ordered = sorted(versions, key=lambda v: v.start)
    segments: list[Segment] = []
    for index, version in enumerate(ordered):
        start = max(version.start, window[0])
        end = window[1]
        if index + 1 < len(ordered):
            end = min(end, ordered[index + 1].start - _DAY)
        if start <= end:
            segments.append(Segment(start, end, version))
    return segments
