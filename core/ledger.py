"""Reading the billing ledger: what live documents cover, per charge (the arithmetic is core.coverage).

The ledger is not a table of its own: it is the charge lines (`invoice_line.charge_id` set) of every
document that is not void. One fact, one place: an invoice line cannot disagree with "the ledger",
a void releases its days by changing one status, and migration 0012 made every line billed before
the ledger existed its first entry.

Where the ledger starts
    Days in charge cycles that began before the service month of the first invoice ever written
    (any customer, any status) are settled: the book was billed some other way before rebill-bot,
    and a charge with an old start date must not send years of "catch-up" on the first run. On a
    new install the first bill run's own service month is that start.

Reads are batched per bill-run page (one query each for coverage, versions and exclusions), so the
bill run stays a constant number of statements per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session

from core import id_lists
from core.calculation import CREDIT, Period
from core.coverage import Covered, Version
from core.invoice_states import VOID
from models.charges import ChargeVersion, RecurringCharge
from models.invoices import Invoice, InvoiceExclusion, InvoiceLine

_INVOICE = Invoice.__table__  # type: ignore[attr-defined]
_LINE = InvoiceLine.__table__  # type: ignore[attr-defined]
_VERSION = ChargeVersion.__table__  # type: ignore[attr-defined]
_CHARGE = RecurringCharge.__table__  # type: ignore[attr-defined]
_EXCLUSION = InvoiceExclusion.__table__  # type: ignore[attr-defined]

Coverage = dict[int, tuple[Covered, ...]]  # by charge id


def coverage_of(
    db: Session, customer_ids: Sequence[int], *, ignore_invoices: Sequence[int] = ()
) -> dict[int, Coverage]:
    """Each customer's ledger entries by charge, from live documents (not `ignore_invoices`, drafts
    being regenerated: their lines are about to be replaced)."""
    if not customer_ids:
        return {}
    query = (
        select(
            _INVOICE.c.customer_id,
            _LINE.c.charge_id,
            _LINE.c.period_start,
            _LINE.c.period_end,
            _LINE.c.unit_price,
            _LINE.c.quantity,
            _LINE.c.charge_version,
            _LINE.c.kind,
        )
        .join(_INVOICE, _INVOICE.c.id == _LINE.c.invoice_id)
        .where(
            id_lists.one_of(db, _INVOICE.c.customer_id, customer_ids),
            _INVOICE.c.status != VOID,
            _LINE.c.charge_id.is_not(None),
            _LINE.c.period_start.is_not(None),
        )
    )
    if ignore_invoices:
        query = query.where(_INVOICE.c.id.not_in(list(ignore_invoices)))
    found: dict[int, dict[int, list[Covered]]] = defaultdict(lambda: defaultdict(list))
    for customer_id, charge_id, start, end, unit_price, quantity, version, kind in db.execute(query).all():
        found[customer_id][charge_id].append(
            Covered(
                charge_id=charge_id,
                start=start,
                end=end,
                unit_price=unit_price,
                quantity=abs(quantity),
                version=version or 1,
                credit=kind == CREDIT,
            )
        )
    return {
        cid: {charge: tuple(entries) for charge, entries in found[cid].items()} if cid in found else {}
        for cid in customer_ids
    }


def versions_of(db: Session, charge_ids: Sequence[int]) -> dict[int, tuple[Version, ...]]:
    """Each charge's versions, oldest first (charges never re-priced have none: their own fields)."""
    if not charge_ids:
        return {}
    return _versions(db, _VERSION.c.charge_id.in_(list(charge_ids)))


def versions_of_customers(db: Session, customer_ids: Sequence[int]) -> dict[int, tuple[Version, ...]]:
    """`versions_of` every charge of these customers.

    Selected by customer, not by charge: a bill-run page of 200 customers has ~10 times as many
    charges, and binding (and, on PostgreSQL, parsing) an IN list of every charge id cost more than
    reading the versions themselves (bench: 2.2 s of a 10,000-customer run, for no rows at all).
    """
    if not customer_ids:
        return {}
    of_customers = select(_CHARGE.c.id).where(id_lists.one_of(db, _CHARGE.c.customer_id, customer_ids))
    return _versions(db, _VERSION.c.charge_id.in_(of_customers.scalar_subquery()))


def _versions(db: Session, which: ColumnElement[bool]) -> dict[int, tuple[Version, ...]]:
    found: dict[int, list[Version]] = defaultdict(list)
    rows = db.execute(
        select(
            _VERSION.c.charge_id,
            _VERSION.c.version,
            _VERSION.c.effective_from,
            _VERSION.c.unit_price,
            _VERSION.c.quantity,
        )
        .where(which)
        .order_by(_VERSION.c.charge_id, _VERSION.c.version)
    )
    for charge_id, number, start, unit_price, quantity in rows:
        found[charge_id].append(Version(number, start, unit_price, quantity))
    return {charge_id: tuple(versions) for charge_id, versions in found.items()}


def waived_of(db: Session, customer_ids: Sequence[int]) -> dict[int, dict[int, frozenset[Period]]]:
    """Per customer and service, the invoice periods the service was left off (their days are waived)."""
    if not customer_ids:
        return {}
    found: dict[int, dict[int, set[Period]]] = defaultdict(lambda: defaultdict(set))
    rows = db.execute(
        select(_EXCLUSION.c.customer_id, _EXCLUSION.c.service_id, _EXCLUSION.c.period).where(
            id_lists.one_of(db, _EXCLUSION.c.customer_id, customer_ids)
        )
    )
    for customer_id, service_id, period in rows:
        found[customer_id][service_id].add(Period.parse(period))
    return {
        cid: {sid: frozenset(periods) for sid, periods in found[cid].items()} if cid in found else {}
        for cid in customer_ids
    }


def first_period(db: Session) -> Period | None:
    """The period of the first invoice ever written (see "Where the ledger starts")."""
    earliest = db.execute(select(func.min(_INVOICE.c.period))).scalar()
    return Period.parse(earliest) if earliest else None
