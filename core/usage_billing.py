"""Usage on invoices: always in arrears, summarised per service, description and rate.

Which usage an invoice bills
    The invoice for period P bills every usage record of the customer dated on or before the last
    day of P.previous() that no invoice has claimed yet, whatever the billing mode: November's calls
    are on the December invoice. Usage imported late (October's, found in December) is therefore
    billed on the next invoice rather than lost.

One line per customer, service, description and rate
    Records with the same (service, description, unit price, taxable) become one line whose
    quantity is their total and whose amount is `unit_price * total quantity`, rounded once
    (`core.money.line_amount`). Its internal cost is the exact sum of each record's
    `unit_cost * quantity`, rounded once. The records themselves go to the customer as a CSV
    attached to the invoice e-mail (`detail_csv`): sell prices only, never cost.

Claiming
    Like once-off items, records are claimed in the invoice's own transaction with
    `UPDATE ... WHERE invoice_id IS NULL`: one UPDATE per invoice (the customer's unclaimed records
    up to the last usage day and the highest id read), one executemany for a batch. If the rows
    changed are not exactly the rows read, a concurrent writer got in between and `ClaimConflict`
    rolls the invoice back. Regenerating a draft releases its records and claims them again;
    voiding an invoice releases them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ARRAY, Date, Integer, bindparam, func, or_, select, update
from sqlmodel import Session

from core import id_lists
from core.calculation import Line, Period
from core.money import line_amount, quantize_money
from models.usage import UsageRecord

USAGE: Final = "usage"
DETAIL_COLUMNS: Final = (
    "usage_id",
    "date",
    "service",
    "description",
    "quantity",
    "unit_price",
    "amount",
    "gst",
)
_USAGE = UsageRecord.__table__  # type: ignore[attr-defined]
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class UsageBill:
    """A customer's usage lines for one invoice and the records they bill."""

    lines: tuple[Line, ...] = ()
    record_ids: tuple[int, ...] = ()


NO_USAGE: Final = UsageBill()


def last_usage_day(period: Period) -> date:
    """The last day of usage the invoice for `period` bills: usage is always in arrears."""
    return period.previous().last_day


def usage_for(
    db: Session, customer_ids: Sequence[int], *, period: Period, include_invoices: Sequence[int] = ()
) -> dict[int, UsageBill]:
    """Usage lines of many customers for the invoice for `period` (one query).

    `include_invoices` are drafts being regenerated: their records count as unclaimed.
    """
    if not customer_ids:
        return {}
    unclaimed = _USAGE.c.invoice_id.is_(None)
    if include_invoices:
        unclaimed = or_(unclaimed, _USAGE.c.invoice_id.in_(list(include_invoices)))
    rows = db.execute(
        select(
            _USAGE.c.id,
            _USAGE.c.customer_id,
            _USAGE.c.service_id,
            _USAGE.c.description,
            _USAGE.c.unit_price,
            _USAGE.c.taxable,
            _USAGE.c.quantity,
            _USAGE.c.unit_cost,
            _USAGE.c.usage_date,
        ).where(
            id_lists.one_of(db, _USAGE.c.customer_id, customer_ids),
            _USAGE.c.usage_date <= last_usage_day(period),
            unclaimed,
        )
    )
    groups: dict[int, dict[tuple[Any, ...], _Group]] = defaultdict(dict)
    for record_id, customer_id, service_id, description, price, taxable, quantity, cost, day in rows:
        key = (service_id or 0, description, price, taxable)
        group = groups[customer_id].get(key)
        if group is None:
            group = groups[customer_id][key] = _Group(service_id, description, price, taxable)
        group.add(record_id, quantity, cost, day)
    out: dict[int, UsageBill] = {}
    for customer_id, by_key in groups.items():
        ordered = [by_key[key] for key in sorted(by_key, key=lambda k: (k[0], k[1], k[2], k[3]))]
        out[customer_id] = UsageBill(
            lines=tuple(group.line() for group in ordered),
            record_ids=tuple(rid for group in ordered for rid in group.ids),
        )
    return out


class _Group:
    __slots__ = (
        "cost",
        "description",
        "first",
        "ids",
        "last",
        "quantity",
        "service_id",
        "taxable",
        "unit_costs",
        "unit_price",
    )

    def __init__(self, service_id: int | None, description: str, unit_price: Decimal, taxable: bool) -> None:
        self.service_id, self.description, self.unit_price, self.taxable = (
            service_id,
            description,
            unit_price,
            taxable,
        )
        self.ids: list[int] = []
        self.quantity = Decimal(0)
        # Exact: 4-place costs times 4-place quantities have 8 places, far inside Decimal's 28 digits.
        self.cost = Decimal(0)
        self.unit_costs: set[Decimal] = set()
        self.first: date | None = None
        self.last: date | None = None

    def add(self, record_id: int, quantity: Decimal, unit_cost: Decimal, day: date) -> None:
        self.ids.append(record_id)
        self.quantity += quantity
        self.cost += unit_cost * quantity
        self.unit_costs.add(unit_cost)
        self.first = day if self.first is None or day < self.first else self.first
        self.last = day if self.last is None or day > self.last else self.last

    def line(self) -> Line:
        assert self.first is not None and self.last is not None
        return Line(
            kind=USAGE,
            source_id=self.ids[0],
            description=f"{self.description} (usage {_span(self.first, self.last)})",
            quantity=self.quantity,
            unit_price=self.unit_price,
            amount=line_amount(self.unit_price, self.quantity),
            taxable=self.taxable,
            period_start=self.first,
            period_end=self.last,
            unit_cost=next(iter(self.unit_costs)) if len(self.unit_costs) == 1 else None,
            cost=quantize_money(self.cost),
            service_id=self.service_id,
        )


def _span(first: date, last: date) -> str:
    def day(d: date) -> str:
        return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"

    return day(first) if first == last else f"{day(first)} – {day(last)}"


@dataclass(frozen=True)
class Claim:
    """An invoice's claim on the usage it read: the customer's unclaimed records up to `last_day`."""

    invoice_id: int
    customer_id: int
    last_day: date
    record_ids: Sequence[int]


def claim(db: Session, claims: Iterable[Claim]) -> bool:
    """Point each invoice's records at it, in one UPDATE per invoice (one executemany for all).

    Each UPDATE takes the customer's unclaimed records dated up to `last_day` with an id no higher
    than the highest it read. The rows changed must be exactly the rows read: fewer means another
    invoice claimed some meanwhile, more means usage was committed meanwhile below that id; both
    return False and the caller rolls back (ClaimConflict), so nothing is billed twice or unread.
    Newer records (higher ids) are simply left for the next invoice.
    """
    params = [
        {"inv": c.invoice_id, "cid": c.customer_id, "last": c.last_day, "top": max(c.record_ids)}
        for c in claims
        if c.record_ids
    ]
    if not params:
        return True
    expected = sum(len(c.record_ids) for c in claims)
    if db.get_bind().dialect.name == "postgresql":
        # One UPDATE joined to the claims as arrays: an executemany there is one UPDATE per invoice,
        # most of a bill run's time with usage. The row count is summed the same way.
        wanted = (
            func.unnest(
                bindparam(None, [p["inv"] for p in params], type_=ARRAY(Integer)),
                bindparam(None, [p["cid"] for p in params], type_=ARRAY(Integer)),
                bindparam(None, [p["last"] for p in params], type_=ARRAY(Date)),
                bindparam(None, [p["top"] for p in params], type_=ARRAY(Integer)),
            )
            .table_valued("inv", "cid", "last", "top")
            .render_derived(name="claim")
        )
        statement = (
            update(_USAGE)
            .where(
                _USAGE.c.customer_id == wanted.c.cid,
                _USAGE.c.invoice_id.is_(None),
                _USAGE.c.usage_date <= wanted.c.last,
                _USAGE.c.id <= wanted.c.top,
            )
            .values(invoice_id=wanted.c.inv)
        )
        return db.execute(statement).rowcount == expected
    changed = db.execute(
        update(_USAGE)
        .where(
            _USAGE.c.customer_id == bindparam("cid"),
            _USAGE.c.invoice_id.is_(None),
            _USAGE.c.usage_date <= bindparam("last"),
            _USAGE.c.id <= bindparam("top"),
        )
        .values(invoice_id=bindparam("inv")),
        params,
    ).rowcount
    return changed == expected


def release(db: Session, invoice_id: int) -> None:
    """Give an invoice's usage records back (a draft regenerated, an invoice voided)."""
    db.execute(update(_USAGE).where(_USAGE.c.invoice_id == invoice_id).values(invoice_id=None))


def _cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula (a leading = + - @ is quoted with ')."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") and not _is_number(value) else value


def _is_number(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def detail_csv(db: Session, invoice_id: int) -> bytes | None:
    """The usage an invoice billed, record by record, as CSV for the customer (None: no usage).

    Sell price and amount only: cost is internal and is never written here.
    """
    from models.charges import Service

    rows = db.execute(
        select(
            _USAGE.c.usage_id,
            _USAGE.c.usage_date,
            Service.reference,  # type: ignore[arg-type]
            Service.name,  # type: ignore[arg-type]
            _USAGE.c.description,
            _USAGE.c.quantity,
            _USAGE.c.unit_price,
            _USAGE.c.taxable,
        )
        .select_from(_USAGE.outerjoin(Service.__table__, Service.__table__.c.id == _USAGE.c.service_id))  # type: ignore[attr-defined]
        .where(_USAGE.c.invoice_id == invoice_id)
        .order_by(_USAGE.c.usage_date, _USAGE.c.id)
    ).all()
    if not rows:
        return None
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(DETAIL_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                _cell(x)
                for x in (
                    r.usage_id,
                    r.usage_date.isoformat(),
                    r.reference or r.name or "",
                    r.description,
                    format(r.quantity.normalize(), "f"),
                    format(r.unit_price.normalize(), "f"),
                    f"{line_amount(r.unit_price, r.quantity):.2f}",
                    "GST" if r.taxable else "GST free",
                )
            ]
        )
    return out.getvalue().encode("utf-8")
