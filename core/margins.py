"""Margins: what a period's invoices earned over what their lines cost, per customer and service.

Read from the invoice lines of the period's live (not void) invoices, drafts included, so the
report matches what is (or is about to be) billed, not today's charges. A line without a cost
(a charge nobody costed) counts its revenue and no cost; `uncosted` says how much revenue that
is, so a 100% margin is never mistaken for a real one.

Margin % is percent ON COST, `(revenue - cost) / cost`, the same measure as the default margin
and the margin floor, so a charge priced at the default margin shows exactly that margin.
`below_floor` returns the rows under the floor setting: the month-close report lists them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from core import billing_settings
from core.calculation import Period
from core.invoice_states import VOID
from core.money import ZERO, margin_percent_of
from models.charges import Service
from models.invoices import Invoice, InvoiceLine

NO_SERVICE = "(no service)"
_LINE = InvoiceLine.__table__  # type: ignore[attr-defined]
_INVOICE = Invoice.__table__  # type: ignore[attr-defined]
_SERVICE = Service.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MarginRow:
    customer_id: int
    customer_name: str
    service_id: int | None
    service_name: str
    revenue: Decimal  # ex-GST
    cost: Decimal
    uncosted: Decimal  # revenue of lines without a cost

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent_of(self.revenue - self.uncosted, self.cost)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: money as strings, never floats."""
        pct = self.margin_percent
        return {
            "customer_id": self.customer_id,
            "customer": self.customer_name,
            "service_id": self.service_id,
            "service": self.service_name,
            "revenue": f"{self.revenue:.2f}",
            "cost": f"{self.cost:.2f}",
            "margin": f"{self.margin:.2f}",
            "margin_percent": None if pct is None else f"{pct:.2f}",
            "uncosted_revenue": f"{self.uncosted:.2f}",
        }


COLUMNS = (
    "customer_id",
    "customer",
    "service_id",
    "service",
    "revenue",
    "cost",
    "margin",
    "margin_percent",
    "uncosted_revenue",
)


def rows(db: Session, *, period: Period) -> list[MarginRow]:
    """One row per customer and service billed for `period`, by customer name then service name.

    Margin % is over the costed revenue only (`revenue - uncosted`), so an uncosted line never
    inflates it; the margin itself is all revenue less all cost.
    """
    found: dict[tuple[int, int | None], list[Any]] = defaultdict(lambda: [None, None, ZERO, ZERO, ZERO])
    query = (
        select(
            _INVOICE.c.customer_id,
            _INVOICE.c.customer_name,
            _LINE.c.service_id,
            _SERVICE.c.name,
            _LINE.c.amount,
            _LINE.c.cost,
        )
        .select_from(
            _LINE.join(_INVOICE, _INVOICE.c.id == _LINE.c.invoice_id).outerjoin(
                _SERVICE, _SERVICE.c.id == _LINE.c.service_id
            )
        )
        .where(_INVOICE.c.period == str(period), _INVOICE.c.status != VOID)
    )
    for customer_id, customer_name, service_id, service_name, amount, cost in db.execute(query):
        entry = found[(customer_id, service_id)]
        entry[0], entry[1] = customer_name, service_name or NO_SERVICE
        entry[2] += amount
        if cost is None:
            entry[4] += amount
        else:
            entry[3] += cost
    out = [
        MarginRow(cid, name, sid, service, revenue, cost, uncosted)
        for (cid, sid), (name, service, revenue, cost, uncosted) in found.items()
    ]
    return sorted(out, key=lambda r: (r.customer_name.casefold(), r.customer_id, r.service_name.casefold()))


def below_floor(db: Session, *, period: Period, floor: Decimal | None = None) -> list[MarginRow]:
    """Rows whose margin % is under the floor (the setting unless given), lowest first.

    Rows with no cost at all have no margin % and are not exceptions; no floor set, no exceptions.
    """
    if floor is None:
        floor = billing_settings.load(db).margin_floor_percent
    if floor is None:
        return []
    low = [r for r in rows(db, period=period) if r.margin_percent is not None and r.margin_percent < floor]
    return sorted(low, key=lambda r: (r.margin_percent, r.customer_name.casefold()))


@dataclass(frozen=True)
class Totals:
    revenue: Decimal
    cost: Decimal
    uncosted: Decimal

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent_of(self.revenue - self.uncosted, self.cost)


def totals(found: Iterable[MarginRow]) -> Totals:
    revenue = cost = uncosted = ZERO
    for row in found:
        revenue, cost, uncosted = revenue + row.revenue, cost + row.cost, uncosted + row.uncosted
    return Totals(revenue, cost, uncosted)


def by_customer(found: Sequence[MarginRow]) -> list[tuple[str, Totals]]:
    """Totals per customer, highest margin first (for the Slack summary)."""
    groups: dict[tuple[int, str], list[MarginRow]] = defaultdict(list)
    for row in found:
        groups[(row.customer_id, row.customer_name)].append(row)
    return sorted(((name, totals(g)) for (_, name), g in groups.items()), key=lambda t: -t[1].margin)


def by_service(found: Sequence[MarginRow]) -> list[tuple[str, Totals]]:
    """Totals per service name across customers, highest margin first."""
    groups: dict[str, list[MarginRow]] = defaultdict(list)
    for row in found:
        groups[row.service_name].append(row)
    return sorted(((name, totals(g)) for name, g in groups.items()), key=lambda t: -t[1].margin)
