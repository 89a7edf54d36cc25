"""Gapless invoice numbers, one series per prefix.

Why a counter row and not a database sequence: a sequence hands out a value even when the
transaction that took it rolls back, so an invoice that failed to save would leave a hole in the
numbering (auditors and the ATO expect none). Here the next number lives in an `invoice_series` row
that is locked and bumped INSIDE the transaction that writes the invoice: if that transaction rolls
back, the bump rolls back with it and the number is handed out again.

Locking
    `lock_series` takes the row lock first (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the
    connection already holds the write lock from `BEGIN IMMEDIATE`, see `core.db`), so every writer
    of invoices is serialised on the series row for the rest of its transaction. Writers take this
    lock BEFORE reading what they are about to bill, which makes their reads fresh with respect to
    every other invoice writer and gives all of them one lock order (no deadlocks).

Series
    The series is the prefix from the billing settings. The first use of a prefix starts at
    `invoice_start_number`; changing the prefix starts a new series, and changing it back carries on
    where the old one stopped. The number is `prefix + sequence` zero-padded to
    `invoice_number_padding` digits (wider sequences simply get more digits: INV-100000).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from core.errors import NotAllowed
from models.invoices import InvoiceSeries
from models.system import BillingSettings

_SERIES = InvoiceSeries.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class InvoiceNumber:
    series: str
    sequence: int
    number: str


def format_number(prefix: str, sequence: int, padding: int) -> str:
    """ "INV-" + 3 padded to 5 → "INV-00003"."""
    return f"{prefix}{sequence:0{max(padding, 0)}d}"


def series_of(settings: BillingSettings) -> str:
    """The prefix numbering the next invoice; refuses while set-up has not chosen one."""
    prefix = (settings.invoice_prefix or "").strip()
    if not prefix:
        raise NotAllowed("Set the invoice prefix and starting number in the billing settings first.")
    return prefix


def credit_note_series(settings: BillingSettings) -> str:
    """The prefix numbering credit notes: their own gapless series (default "CN-"), from 1."""
    return (settings.credit_note_prefix or "").strip() or "CN-"


def lock_series(db: Session, *, settings: BillingSettings, series: str | None = None) -> str:
    """Create the series row on first use and lock it until the caller's transaction ends.

    Returns the series (prefix). The row is created with `INSERT ... ON CONFLICT DO NOTHING` so two
    processes starting a new series at once do not fail; the second simply waits for the lock.
    """
    prefix = series or series_of(settings)
    start = 1 if series is not None else settings.invoice_start_number or 1
    lock = select(_SERIES.c.next_number).where(_SERIES.c.prefix == prefix).with_for_update()
    if db.execute(lock).first() is None:  # first use of the prefix (one round trip, not two, after it)
        insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
        db.execute(insert(_SERIES).values(prefix=prefix, next_number=start).on_conflict_do_nothing())
        db.execute(lock)
    return prefix


def allocate(
    db: Session, *, settings: BillingSettings, count: int, series: str | None = None
) -> list[InvoiceNumber]:
    """Take the next `count` numbers of the current series, in order, in the caller's transaction.

    Call `lock_series` first (it is idempotent, so calling it again is harmless); the caller must
    commit the invoices that use these numbers in the same transaction, or roll it all back.
    `series` names another series than the invoices' (credit notes); the invoice series is locked
    first all the same, so every writer takes the locks in one order.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    prefix = lock_series(db, settings=settings)
    if series is not None:
        prefix = lock_series(db, settings=settings, series=series)
    if count == 0:
        return []
    after = db.execute(
        update(_SERIES)
        .where(_SERIES.c.prefix == prefix)
        .values(next_number=_SERIES.c.next_number + count)
        .returning(_SERIES.c.next_number)
    ).scalar_one()
    first = after - count
    padding = settings.invoice_number_padding
    return [
        InvoiceNumber(series=prefix, sequence=n, number=format_number(prefix, n, padding))
        for n in range(first, after)
    ]


def next_number(db: Session, *, settings: BillingSettings) -> InvoiceNumber:
    """One number (see `allocate`)."""
    return allocate(db, settings=settings, count=1)[0]


def peek(db: Session, *, settings: BillingSettings) -> str:
    """The number the next invoice would get, without taking it (for previews)."""
    prefix = series_of(settings)
    current = db.execute(select(_SERIES.c.next_number).where(_SERIES.c.prefix == prefix)).scalar()
    sequence = current if current is not None else settings.invoice_start_number or 1
    return format_number(prefix, sequence, settings.invoice_number_padding)
