"""Licence quantity sync: a recurring charge whose quantity follows a feed of licence counts.

Suppliers (Microsoft CSP, backup vendors) report how many seats a customer has; keying those
numbers into charges by hand every month is where rebilling goes wrong. A recurring charge with a
`quantity_feed` bills, for each service month, the feed's LATEST count dated on or before the last
day of that month (a count carries forward until a newer one arrives); with no count at all it
bills its own `quantity`. A count of 0 bills nothing for that month. The charge row itself is not
rewritten: the feed decides each month's quantity, the preview says when it differs.

Counts arrive through `import_counts` (`rebill-bot usage licences --csv FILE`, columns
feed,date,quantity), all or nothing, one count per feed and day (a later import of the same feed
and day replaces the count: the supplier corrected itself).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import IO

from sqlalchemy import and_, delete, func, insert, select
from sqlmodel import Session

from core.calculation import ChargeInput, Period
from core.charge_validation import QUANTITY_MAX
from core.clock import Clock
from core.errors import FieldErrors
from core.money import parse_quantity
from models.charges import RecurringCharge
from models.system import BillingSettings
from models.usage import LicenceCount

_COUNT = LicenceCount.__table__  # type: ignore[attr-defined]
FEED_COLUMNS = ("feed", "date", "quantity")


@dataclass(frozen=True)
class QuantityChange:
    charge_id: int
    description: str
    feed: str
    quantity: Decimal  # the charge's own
    counted: Decimal  # the feed's, billed

    def __str__(self) -> str:
        return (
            f"Quantity of {self.description} follows feed {self.feed}: "
            f"{self.quantity.normalize():f} → {self.counted.normalize():f}"
        )


def service_month(period: Period, mode: str) -> Period:
    """The month whose count decides the quantity on the invoice for `period` (advance: itself)."""
    return period if mode == "advance" else period.previous()


def latest_counts(db: Session, feeds: Iterable[str], *, month: Period) -> dict[str, Decimal]:
    """Each feed's latest count dated on or before the end of `month` (feeds with none are absent)."""
    names = sorted(set(feeds))
    if not names:
        return {}
    latest = (
        select(_COUNT.c.feed, func.max(_COUNT.c.count_date).label("day"))
        .where(_COUNT.c.feed.in_(names), _COUNT.c.count_date <= month.last_day)
        .group_by(_COUNT.c.feed)
        .subquery()
    )
    rows = db.execute(
        select(_COUNT.c.feed, _COUNT.c.quantity).join(
            latest, and_(_COUNT.c.feed == latest.c.feed, _COUNT.c.count_date == latest.c.day)
        )
    )
    return {feed: quantity for feed, quantity in rows}


def apply(charges: Sequence[ChargeInput], counts: Mapping[str, Decimal]) -> tuple[ChargeInput, ...]:
    """`charges` with each fed quantity replaced by its count (a zero count drops the charge)."""
    out: list[ChargeInput] = []
    for charge in charges:
        counted = counts.get(charge.quantity_feed) if charge.quantity_feed else None
        if counted is None:
            out.append(charge)
        elif counted > 0:
            out.append(replace(charge, quantity=counted))
    return tuple(out)


def fed_charges(
    db: Session, charges: Sequence[ChargeInput], *, period: Period, mode: str
) -> tuple[ChargeInput, ...]:
    """The charges as the invoice for `period` bills them (one query for all their feeds)."""
    feeds = [c.quantity_feed for c in charges if c.quantity_feed]
    if not feeds:
        return tuple(charges)
    return apply(charges, latest_counts(db, feeds, month=service_month(period, mode)))


def changes(db: Session, *, customer_id: int, period: Period) -> list[QuantityChange]:
    """Charges of the customer whose quantity on the invoice for `period` differs from their own."""
    rows = db.execute(
        select(
            RecurringCharge.id,
            RecurringCharge.description,
            RecurringCharge.quantity_feed,
            RecurringCharge.quantity,
        )  # type: ignore[call-overload]
        .where(RecurringCharge.customer_id == customer_id, RecurringCharge.quantity_feed.is_not(None))  # type: ignore[union-attr]
        .order_by(RecurringCharge.id)
    ).all()
    if not rows:
        return []
    mode = (db.get(BillingSettings, 1) or BillingSettings()).billing_mode  # a read: never creates the row
    counts = latest_counts(db, (r.quantity_feed for r in rows), month=service_month(period, mode))
    return [
        QuantityChange(r.id, r.description, r.quantity_feed, r.quantity, counts[r.quantity_feed])
        for r in rows
        if r.quantity_feed in counts and counts[r.quantity_feed] != r.quantity
    ]


@dataclass
class CountReport:
    written: int = 0
    errors: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def import_counts(
    db: Session, source: IO[str], *, actor: str, clock: Clock, dry_run: bool = False
) -> CountReport:
    """Read feed,date,quantity rows; write them all, or nothing and every bad row's reason."""
    reader = csv.reader(source)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in FEED_COLUMNS if c not in header]
    if missing:
        return CountReport(errors=[f"row 1: missing column(s) {', '.join(missing)}"])
    at = {name: header.index(name) for name in FEED_COLUMNS}
    errors: list[str] = []
    batch: dict[tuple[str, date], Decimal] = {}
    written = 0
    now = clock.now()
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            feed, day, quantity = _count(row, at)
        except (ValueError, IndexError, FieldErrors) as exc:
            reason = exc.user_message if isinstance(exc, FieldErrors) else str(exc)
            errors.append(f"row {number}: {reason}")
            continue
        batch[(feed, day)] = quantity
        if len(batch) >= 1000 and not errors:
            written += _write_counts(db, batch, actor=actor, now=now)
            batch.clear()
    if not errors:
        written += _write_counts(db, batch, actor=actor, now=now)
    if errors or dry_run:
        db.rollback()
    return CountReport(written=0 if errors else written, errors=errors)


def _count(row: list[str], at: Mapping[str, int]) -> tuple[str, date, Decimal]:
    feed = row[at["feed"]].strip()
    if not feed or len(feed) > 100:
        raise ValueError("feed must be 1 to 100 characters")
    try:
        day = date.fromisoformat(row[at["date"]].strip())
    except ValueError:
        raise ValueError(f"date {row[at['date']]!r} is not YYYY-MM-DD") from None
    quantity = parse_quantity(row[at["quantity"]], field="quantity")
    if quantity > QUANTITY_MAX:
        raise ValueError("quantity can be at most 100,000")
    return feed, day, quantity


def _write_counts(db: Session, batch: Mapping[tuple[str, date], Decimal], *, actor: str, now: object) -> int:
    if not batch:
        return 0
    for feed, day in batch:
        db.execute(delete(_COUNT).where(_COUNT.c.feed == feed, _COUNT.c.count_date == day))
    db.execute(
        insert(_COUNT),
        [
            {"feed": f, "count_date": d, "quantity": q, "created_at": now, "created_by": actor}
            for (f, d), q in batch.items()
        ],
    )
    return len(batch)
