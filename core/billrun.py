"""The monthly bill run: one invoice per active customer with something to bill for a period.

Safe to run twice, or twice at once
    The partial unique index `uq_invoice_customer_period_live` allows one live (not void) invoice
    per (customer, period), so a customer that already has one is skipped. Each batch of customers
    is written in its own short transaction that first locks the numbering series
    (`core.numbering`), then reads what to bill: a second run, in another process, waits for that
    lock and then sees the first run's invoices, so it writes nothing new, and numbers stay gapless.
    Should a batch still collide (an IntegrityError on the unique index, or a once-off item claimed
    meanwhile) the batch is rolled back (giving its numbers back) and its customers are retried one
    at a time; a customer whose slot turns out to be taken counts as skipped.

Constant memory
    Customer ids are read in keyset pages of `batch_size` (`WHERE id > last ORDER BY id LIMIT n`);
    each page's inputs are loaded with a fixed number of queries (filtered by the page's ids) and
    written with a handful of bulk statements (COPY on PostgreSQL, see `core.bulk_insert`), in a
    fresh session that is closed before the next page. The result keeps counts,
    the total and the created numbers as contiguous ranges, not a row per invoice.

Drafts
    A customer whose invoice for the period is still a draft is left alone, unless
    `regenerate_drafts` is set: then its lines are recomputed and its number kept. A draft that
    would have nothing left to bill is left as it was and reported in `warnings` (void it by hand).

Excluded services
    A service flagged `exclude_next_invoice` is left off; when the run writes that customer's
    invoice (or finds nothing else to bill for it) the flag is cleared and the exclusion recorded
    for the period, so re-running or regenerating the period keeps the service off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core import billing_settings, invoice_writing, invoices, numbering
from core.calculation import Period
from core.clock import Clock
from core.db import session_scope
from core.invoice_states import CREDIT_NOTE, INVOICE
from core.invoice_writing import ClaimConflict, Draft
from core.money import ZERO
from models.customers import EndCustomer
from models.system import BillingSettings

_CUSTOMER = EndCustomer.__table__  # type: ignore[attr-defined]
_RETRIES = 3

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class HeldCatchUp:
    """Unbilled days older than the back-billing horizon: listed, neither billed nor dropped."""

    customer_id: int
    customer_name: str
    description: str
    period_start: date
    period_end: date
    amount: Decimal

    def as_dict(self) -> dict[str, object]:
        return {
            "customer_id": self.customer_id,
            "customer_name": self.customer_name,
            "description": self.description,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "amount": str(self.amount),
        }


def held_of(draft: Draft) -> list[HeldCatchUp]:
    return [
        HeldCatchUp(
            draft.customer_id,
            draft.customer_name,
            line.description,
            line.period_start or draft.issue_date,
            line.period_end or draft.issue_date,
            line.amount,
        )
        for line in draft.held
    ]


@dataclass
class BillRunResult:
    """What a run did (or, with `dry_run`, would do)."""

    period: str
    dry_run: bool = False
    created: int = 0
    skipped_existing: int = 0
    regenerated: int = 0
    nothing_to_bill: int = 0
    total: Decimal = ZERO  # of the invoices created and regenerated, GST included
    regenerated_numbers: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    credit_notes: int = 0  # of `created`: customers whose credits exceeded their charges
    # Catch-up older than the horizon, not billed: it waits for a decision (`include_old_catch_up`).
    held: list[HeldCatchUp] = field(default_factory=list)
    # Created numbers as contiguous runs (series, first, last, padding): a run of 100,000 invoices
    # is normally one entry, so the result stays small however big the book is.
    runs: list[tuple[str, int, int, int]] = field(default_factory=list)

    @property
    def customers_seen(self) -> int:
        return self.created + self.skipped_existing + self.regenerated + self.nothing_to_bill

    @property
    def number_ranges(self) -> list[tuple[str, str]]:
        """(first, last) number of each contiguous run of created invoices."""
        return [
            (numbering.format_number(s, a, p), numbering.format_number(s, b, p)) for s, a, b, p in self.runs
        ]

    def invoice_numbers(self) -> Iterator[str]:
        """Every number created, in order (generated, so memory stays flat)."""
        for series, first, last, padding in self.runs:
            for n in range(first, last + 1):
                yield numbering.format_number(series, n, padding)

    def add_created(self, series: str, sequence: int, padding: int, total: Decimal) -> None:
        self.created += 1
        self.total += total
        self._add_run(series, sequence, sequence, padding)

    def merge(self, other: BillRunResult) -> None:
        """Add the outcome of a batch whose transaction committed."""
        for series, first, last, padding in other.runs:
            self._add_run(series, first, last, padding)
        self.created += other.created
        self.total += other.total
        self.skipped_existing += other.skipped_existing
        self.regenerated += other.regenerated
        self.nothing_to_bill += other.nothing_to_bill
        self.regenerated_numbers.extend(other.regenerated_numbers)
        self.warnings.extend(other.warnings)
        self.credit_notes += other.credit_notes
        self.held.extend(other.held)

    def _add_run(self, series: str, first: int, last: int, padding: int) -> None:
        if self.runs:
            s, a, b, p = self.runs[-1]
            if (s, p) == (series, padding) and b + 1 == first:
                self.runs[-1] = (s, a, last, p)
                return
        self.runs.append((series, first, last, padding))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (money as a string, never a float)."""
        return {
            "period": self.period,
            "dry_run": self.dry_run,
            "created": self.created,
            "skipped_existing": self.skipped_existing,
            "regenerated": self.regenerated,
            "nothing_to_bill": self.nothing_to_bill,
            "total": str(self.total),
            "invoice_ranges": [list(r) for r in self.number_ranges],
            "regenerated_numbers": self.regenerated_numbers,
            "warnings": self.warnings,
            "credit_notes": self.credit_notes,
            "held_catch_up": [item.as_dict() for item in self.held],
            "held_total": str(sum((item.amount for item in self.held), ZERO)),
        }


@dataclass(frozen=True)
class PreviewItem:
    customer_id: int
    customer_name: str
    lines: int
    total: Decimal
    doc_type: str = INVOICE


@dataclass(frozen=True)
class BillPreview:
    period: str
    items: tuple[PreviewItem, ...]
    already_invoiced: int
    held: tuple[HeldCatchUp, ...] = ()

    @property
    def held_total(self) -> Decimal:
        return sum((item.amount for item in self.held), ZERO)

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def total(self) -> Decimal:
        return sum((item.total for item in self.items), ZERO)


def period_to_bill(*, db: Session, today: date) -> Period:
    """The month a bill run started today bills when nobody names one: the month of the first
    bill-run day on or after today.

    Slack, the CLI and the scheduler all ask this, so at 23:30 UTC on 30 November (1 December in
    Sydney, the bill-run day) they all bill December, and on 25 November they all offer December.
    """
    this = Period.of(today)
    return this if today.day <= billing_settings.load(db).bill_run_day else this.next()


def run_bill(
    *,
    engine: Engine,
    period: Period,
    actor: str,
    clock: Clock,
    regenerate_drafts: bool = False,
    dry_run: bool = False,
    batch_size: int = 200,
    progress: Progress | None = None,
    include_old_catch_up: bool = False,
) -> BillRunResult:
    """Invoice every active customer with something to bill for `period` (see the module docstring).

    Raises NotAllowed before writing anything if the billing settings are incomplete. `progress`
    is called with (customers done, customers in all) after each batch. Catch-up older than the
    back-billing horizon is listed in `held` and billed only with `include_old_catch_up`.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with session_scope(engine) as db:  # writes only the settings row, and only if it was missing
        invoice_writing.require_configured(billing_settings.load(db))
        total = _count_active(db)
    result = BillRunResult(period=str(period), dry_run=dry_run)
    done = 0
    if progress:
        progress(0, total)
    for ids in _pages(engine, batch_size):
        if dry_run:
            with Session(engine) as db:
                _batch(
                    db,
                    ids,
                    period=period,
                    actor=actor,
                    clock=clock,
                    regenerate=regenerate_drafts,
                    include_old=include_old_catch_up,
                    result=result,
                    write=False,
                )
                db.rollback()
        else:
            _write_batch(
                engine,
                ids,
                period=period,
                actor=actor,
                clock=clock,
                regenerate=regenerate_drafts,
                include_old=include_old_catch_up,
                result=result,
            )
        done += len(ids)
        total = max(total, done)  # customers added during the run
        if progress:
            progress(done, total)
    return result


def preview_bill(
    *, db: Session, period: Period, batch_size: int = 500, include_old_catch_up: bool = False
) -> BillPreview:
    """Who would be invoiced for `period`, and for how much, if the run happened now. Reads only.

    Customers that already have a live invoice for the period are counted, not listed.
    """
    settings = billing_settings.load(db)
    items: list[PreviewItem] = []
    held: list[HeldCatchUp] = []
    already = 0
    last = 0
    while ids := _page(db, after=last, limit=batch_size):
        last = ids[-1]
        live = invoice_writing.live_invoices(db, ids, period=period)
        already += len(live)
        todo = [cid for cid in ids if cid not in live]
        drafts = _drafts(db, todo, period=period, settings=settings, include_old=include_old_catch_up)
        for draft in drafts.values():
            if draft is not None:
                items.append(
                    PreviewItem(
                        draft.customer_id,
                        draft.customer_name,
                        len(draft.lines),
                        draft.totals.total,
                        draft.doc_type,
                    )
                )
                held.extend(held_of(draft))
    return BillPreview(period=str(period), items=tuple(items), already_invoiced=already, held=tuple(held))


# One batch


def _write_batch(
    engine: Engine,
    ids: list[int],
    *,
    period: Period,
    actor: str,
    clock: Clock,
    regenerate: bool,
    result: BillRunResult,
    include_old: bool = False,
) -> None:
    """Write a batch in one transaction; on a collision, retry its customers one by one."""
    if len(ids) > 1:
        try:
            with session_scope(engine) as db:
                staged = BillRunResult(period=result.period)
                _batch(
                    db,
                    ids,
                    period=period,
                    actor=actor,
                    clock=clock,
                    regenerate=regenerate,
                    include_old=include_old,
                    result=staged,
                )
            result.merge(staged)
            return
        except (IntegrityError, ClaimConflict):
            pass  # rolled back, numbers returned; fall through to one customer per transaction
    for customer_id in ids:
        _write_one(
            engine,
            customer_id,
            period=period,
            actor=actor,
            clock=clock,
            regenerate=regenerate,
            include_old=include_old,
            result=result,
        )


def _write_one(
    engine: Engine,
    customer_id: int,
    *,
    period: Period,
    actor: str,
    clock: Clock,
    regenerate: bool,
    result: BillRunResult,
    include_old: bool = False,
) -> None:
    for attempt in range(_RETRIES):
        try:
            with session_scope(engine) as db:
                staged = BillRunResult(period=result.period)
                _batch(
                    db,
                    [customer_id],
                    period=period,
                    actor=actor,
                    clock=clock,
                    regenerate=regenerate,
                    include_old=include_old,
                    result=staged,
                )
            result.merge(staged)
            return
        except IntegrityError:
            # Lost the (customer, period) slot to a writer outside the series lock (another prefix,
            # say): a taken slot is a skip; anything else is a real error.
            with session_scope(engine, write=False) as db:
                taken = customer_id in invoice_writing.live_invoices(db, [customer_id], period=period)
            if taken:
                result.skipped_existing += 1
                return
            raise
        except ClaimConflict:
            if attempt == _RETRIES - 1:
                raise


def _batch(
    db: Session,
    ids: list[int],
    *,
    period: Period,
    actor: str,
    clock: Clock,
    regenerate: bool,
    result: BillRunResult,
    include_old: bool = False,
    write: bool = True,
) -> None:
    """Bill the customers `ids` in the session's transaction, adding what happened to `result`."""
    settings = billing_settings.load(db)
    if write:
        numbering.lock_series(db, settings=settings)  # first: everything read below is then fresh
        _replan(db)
    customers = invoice_writing.load_customers(db, ids)
    active = [cid for cid in ids if cid in customers and customers[cid].archived_at is None]
    live = invoice_writing.live_invoices(db, active, period=period)
    redo = {cid: row for cid, row in live.items() if regenerate and row.status == invoices.DRAFT}
    result.skipped_existing += len(live) - len(redo)
    todo = [cid for cid in active if cid not in live or cid in redo]
    drafts = _drafts(
        db,
        todo,
        period=period,
        settings=settings,
        customers=customers,
        items_of=[r.id for r in redo.values()],
        include_old=include_old,
    )
    new = [d for cid, d in drafts.items() if cid not in redo and d is not None]
    empty = [cid for cid, d in drafts.items() if cid not in redo and d is None]
    result.nothing_to_bill += len(empty)
    result.credit_notes += sum(1 for d in new if d.doc_type == CREDIT_NOTE)
    for draft in drafts.values():
        if draft is not None:
            result.held.extend(held_of(draft))
    if write:
        for item in invoice_writing.write_new(db, new, settings=settings, actor=actor, clock=clock):
            result.add_created(item.series, item.sequence, settings.invoice_number_padding, item.total)
    else:
        result.created += len(new)
        result.total += sum((d.totals.total for d in new), ZERO)
    for cid, row in redo.items():
        draft = drafts[cid]
        if draft is None:
            result.skipped_existing += 1
            result.warnings.append(
                f"{row.number}: {customers[cid].company_name} has nothing to bill for {period} any more; "
                "left as it was (void it if that is right)."
            )
            continue
        if draft.doc_type == CREDIT_NOTE:  # an invoice's number can't carry a credit note
            result.skipped_existing += 1
            result.warnings.append(
                f"{row.number}: {customers[cid].company_name}'s credits for {period} now exceed its charges; "
                "left as it was (void it and run again to issue a credit note)."
            )
            continue
        result.regenerated += 1
        result.regenerated_numbers.append(row.number)
        result.total += draft.totals.total
        if write:
            invoice_writing.rewrite_draft(db, row.id, draft, settings=settings, actor=actor, clock=clock)
    if write:
        # A customer with nothing else to bill still used up its services' one-shot exclusions.
        flagged = invoice_writing.flagged_services(db, empty)
        invoice_writing.consume_exclusions(db, flagged, period=period, actor=actor, clock=clock)


def _replan(db: Session) -> None:
    """On PostgreSQL, have this connection plan its statements afresh for the batch.

    Each invoice_line row is checked against its invoice by the foreign key's trigger, whose query
    PostgreSQL plans once per connection and keeps. Planned while the invoice table was empty or
    small (the first run on a new database, or statistics taken when it was), that plan is a
    sequential scan, kept for the whole run: every line then reads every invoice, and the run
    slows quadratically (bench, 10,000 customers: 75 s instead of 18 s). Dropping cached plans at each
    batch lets them be re-planned against the table's current size; it costs a few plannings.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("DISCARD PLANS"))


def _drafts(
    db: Session,
    ids: list[int],
    *,
    period: Period,
    settings: BillingSettings,
    customers: Mapping[int, Any] | None = None,
    items_of: list[int] | None = None,
    include_old: bool = False,
) -> dict[int, Draft | None]:
    if not ids:
        return {}
    if customers is None:
        customers = invoice_writing.load_customers(db, ids)
    inputs = invoice_writing.load_inputs(db, ids, period=period, include_items_of=items_of or [])
    return {
        cid: invoice_writing.build_draft(
            customers[cid], inputs[cid], period=period, settings=settings, include_old=include_old
        )
        for cid in ids
    }


# Paging


def _count_active(db: Session) -> int:
    return int(db.execute(select(func.count()).where(_CUSTOMER.c.archived_at.is_(None))).scalar_one())


def _page(db: Session, *, after: int, limit: int) -> list[int]:
    return list(
        db.execute(
            select(_CUSTOMER.c.id)
            .where(_CUSTOMER.c.archived_at.is_(None), _CUSTOMER.c.id > after)
            .order_by(_CUSTOMER.c.id)
            .limit(limit)
        ).scalars()
    )


def _pages(engine: Engine, size: int) -> Iterator[list[int]]:
    """Active customer ids in pages, each read in its own short transaction (keyset, not OFFSET)."""
    last = 0
    while True:
        with session_scope(engine, write=False) as db:
            ids = _page(db, after=last, limit=size)
        if not ids:
            return
        last = ids[-1]
        yield ids
