"""What a customer owes for a billing period, line by line. Pure: no database, no I/O, no clock.

This is the single source of truth for billing arithmetic: the preview in Slack, the bill run and
any report call `bill_lines` and `totals` with plain inputs, so they can never disagree.

Which service period an invoice covers
    The invoice for period P is issued on the 1st of P. In **advance** mode its recurring lines cover
    the service month P itself; in **arrears** mode they cover P.previous(). Once-off items are not
    tied to a service month: every uninvoiced item dated on or before the last day of P is billed in
    full on P's invoice (the caller passes only items that are not yet invoiced).

Monthly charges
    A charge covering the whole service month costs exactly `unit_price * quantity`, rounded once to
    cents. When the charge (or its service) starts or ends inside the month, the portal's rule
    applies: `price / days_in_month * days_covered`, computed exactly with rational arithmetic and
    rounded half-up to cents, never at an intermediate step. To keep pieces of one month adding up
    to exactly the monthly price (a customer whose service is split mid-month must never pay more
    than a month costs), a piece covering days a..b is billed as the difference of two rounded
    running totals, `R(price * b/n) - R(price * (a-1)/n)` (`core.money.prorated_amount`). For a
    piece starting on day 1 (a service ending mid-month) that is exactly the portal's formula
    rounded once; for a piece starting mid-month it is `R(price) - R(price * (a-1)/n)`, which can
    differ from rounding the piece on its own by one cent at most. Example: $10.01 for June split
    1-15 / 16-30 is R(5.005) = 5.01 and 10.01 - 5.01 = 5.00, total 10.01 (rounding each piece
    alone would bill 10.02).

Quarterly and annual charges
    Cycles are calendar-month aligned and counted from the month of `effective_from`: a quarterly
    charge effective in January bills in January, April, July and October; an annual one every
    January. Each cycle is billed whole on the invoice whose service month is the cycle's first
    month (in arrears mode that is the invoice one month later, so quarterly/annual charges are in
    arrears by a month, not by a cycle: prepaid licences should not wait a year to be recovered).
    The amount is the full cycle price `unit_price * quantity`, unless the covered part of the cycle
    is shorter than the cycle, in which case it is pro-rated by days, the same rule as monthly:
    `unit_price * quantity * days_covered / days_in_cycle`, rounded once. The cycle is shortened
    when
    - the charge starts mid-month: the first cycle starts on `effective_from` and runs to the end of
      its nominal last month (e.g. effective 15 Jan, quarterly: 15 Jan to 31 Mar, 76/90 days), so
      every later cycle is a whole calendar quarter;
    - `end_date` (of the charge or its service) falls inside the cycle: billed up to and including
      the end date. Because the cycle is billed at its start, an end date set after that invoice was
      issued needs a credit; that is the invoice module's concern, not this one's.

Services
    A charge linked to a service inherits the service's life: a cancelled service
    (`status == "cancelled"`) or one excluded from the next invoice takes its charges with it, and the
    service's `start_date`/`end_date` cut the charge's coverage exactly like the charge's own
    `effective_from`/`end_date` (so a service ended before the service month bills nothing).

Cost (internal)
    A charge or item may carry a wholesale `unit_cost`; its line then carries `cost`, computed by the
    same rule as its amount (pro-rated by the same days, rounded once), so revenue and cost of a line
    always cover the same days. Cost never changes an amount; it is for margins, never for the
    customer (the invoice templates and exports do not read it).

Tax
    GST applies only to taxable lines and is rounded ONCE per invoice: `tax = half-up to cents of
    (sum of taxable line amounts * tax_rate)`; the method is recorded as `per-invoice-half-up`.
    `subtotal` is the sum of line amounts and `total = subtotal + tax`.

Order of lines
    Recurring lines by charge id, then once-off lines by item date, then id: the same inputs always
    give the same invoice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Final

from core.money import ZERO, line_amount, prorated_amount, require_decimal, round_exact, sum_money, tax_amount

FREQUENCY_MONTHS: Final[Mapping[str, int]] = {"monthly": 1, "quarterly": 3, "annually": 12}
FREQUENCIES: Final = tuple(FREQUENCY_MONTHS)
MODES: Final = ("advance", "arrears")
SERVICE_STATUSES: Final = ("active", "cancelled")
TAX_ROUNDING: Final = "per-invoice-half-up"
RECURRING: Final = "recurring"
ONCE_OFF: Final = "once_off"

_MONTH_ABBR: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PERIOD_TEXT = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month, the unit invoices are issued for ("2026-12")."""

    year: int
    month: int

    def __post_init__(self) -> None:
        for name in ("year", "month"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), int):
                raise TypeError(f"Period.{name} must be an int")
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"not a month: {self.year}-{self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """ "2026-12" → Period(2026, 12); anything else raises ValueError."""
        match = _PERIOD_TEXT.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"a billing period looks like 2026-12, not {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Period:
        """The month a date falls in."""
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.plus(1).first_day - timedelta(days=1)

    @property
    def days(self) -> int:
        return self.last_day.day

    def plus(self, months: int) -> Period:
        """The period `months` later (negative: earlier)."""
        index = self.year * 12 + (self.month - 1) + months
        return Period(index // 12, index % 12 + 1)

    def months_since(self, earlier: Period) -> int:
        return (self.year - earlier.year) * 12 + (self.month - earlier.month)

    def next(self) -> Period:
        return self.plus(1)

    def previous(self) -> Period:
        return self.plus(-1)


@dataclass(frozen=True)
class ChargeInput:
    """A recurring charge as the calculation needs it (money already Decimal, validated upstream)."""

    id: int
    description: str
    unit_price: Decimal
    quantity: Decimal
    frequency: str
    effective_from: date
    end_date: date | None
    taxable: bool
    service_id: int | None
    unit_cost: Decimal | None = None
    quantity_feed: str | None = None

    def __post_init__(self) -> None:
        require_decimal(self.unit_price, what="unit_price")
        require_decimal(self.quantity, what="quantity")
        if self.frequency not in FREQUENCY_MONTHS:
            raise ValueError(f"charge {self.id}: unknown frequency {self.frequency!r}")


@dataclass(frozen=True)
class ServiceInput:
    id: int
    status: str
    start_date: date
    end_date: date | None
    exclude_next_invoice: bool

    def __post_init__(self) -> None:
        if self.status not in SERVICE_STATUSES:
            raise ValueError(f"service {self.id}: unknown status {self.status!r}")


@dataclass(frozen=True)
class OnceOffInput:
    id: int
    description: str
    unit_price: Decimal
    quantity: Decimal
    item_date: date
    taxable: bool
    unit_cost: Decimal | None = None

    def __post_init__(self) -> None:
        require_decimal(self.unit_price, what="unit_price")
        require_decimal(self.quantity, what="quantity")


@dataclass(frozen=True)
class Line:
    """One invoice line. `amount` is ex-GST and already rounded (2 dp).

    For recurring lines `period_start`/`period_end` are the days actually billed; for once-off lines
    both are the item's date, so the date survives onto the invoice.
    """

    kind: str
    source_id: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    taxable: bool
    period_start: date | None
    period_end: date | None
    unit_cost: Decimal | None = None  # internal: margins only, never on the customer's invoice
    cost: Decimal | None = None
    service_id: int | None = None

    def __post_init__(self) -> None:
        require_decimal(self.amount, what="amount")
        require_decimal(self.quantity, what="quantity")
        require_decimal(self.unit_price, what="unit_price")


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    tax_rounding: str


def bill_lines(
    *,
    period: Period,
    mode: str,
    charges: Sequence[ChargeInput],
    services: Sequence[ServiceInput],
    once_offs: Sequence[OnceOffInput],
) -> list[Line]:
    """The lines of the invoice for `period` (see the module docstring for every rule applied).

    `services` must include every service a charge refers to (ValueError otherwise: silently
    dropping or billing a charge whose service we cannot see would both be wrong).
    """
    if mode not in MODES:
        raise ValueError(f"billing mode must be one of {MODES}, not {mode!r}")
    service_month = period if mode == "advance" else period.previous()
    services_by_id = {service.id: service for service in services}
    lines: list[Line] = []
    for charge in sorted(charges, key=lambda c: c.id):
        line = _recurring_line(charge, service_month, services_by_id)
        if line is not None:
            lines.append(line)
    for item in sorted(once_offs, key=lambda i: (i.item_date, i.id)):
        if item.item_date <= period.last_day:
            lines.append(_once_off_line(item))
    return lines


def totals(lines: Sequence[Line], tax_rate: Decimal) -> Totals:
    """Subtotal, GST (rounded once per invoice, half-up) and total of `lines`."""
    rate = require_decimal(tax_rate, what="tax_rate")
    if not ZERO <= rate < 1:
        raise ValueError(f"tax rate must be a fraction such as 0.10, not {rate}")
    subtotal = sum_money(line.amount for line in lines)
    taxable = sum_money(line.amount for line in lines if line.taxable)
    tax = tax_amount(taxable, rate)
    return Totals(subtotal=subtotal, tax=tax, total=subtotal + tax, tax_rounding=TAX_ROUNDING)


def monthly_run_rate(
    charges: Iterable[ChargeInput], services: Sequence[ServiceInput], *, as_of: date
) -> Decimal:
    """What the customer's recurring charges come to per month, as of a day (for lists, not bills).

    Counts charges in force on `as_of` whose service (if any) is not cancelled or ended; a quarterly
    charge counts a third of its price, an annual one a twelfth. Summed exactly, rounded once.
    `exclude_next_invoice` is a one-invoice exception, so it does not change the run rate.
    """
    services_by_id = {service.id: service for service in services}
    exact = Fraction(0)
    for charge in charges:
        service = _service_of(charge, services_by_id)
        start, end = _window(charge, service)
        if service is not None and service.status == "cancelled":
            continue
        if start <= as_of and (end is None or end >= as_of):
            months = FREQUENCY_MONTHS[charge.frequency]
            exact += Fraction(charge.unit_price) * Fraction(charge.quantity) / months
    return round_exact(exact)


def _service_of(charge: ChargeInput, services_by_id: Mapping[int, ServiceInput]) -> ServiceInput | None:
    if charge.service_id is None:
        return None
    try:
        return services_by_id[charge.service_id]
    except KeyError:
        raise ValueError(
            f"charge {charge.id} refers to service {charge.service_id}, which was not given"
        ) from None


def _window(charge: ChargeInput, service: ServiceInput | None) -> tuple[date, date | None]:
    """The days the charge may bill at all: its own life cut by its service's life."""
    start, end = charge.effective_from, charge.end_date
    if service is not None:
        start = max(start, service.start_date)
        if service.end_date is not None:
            end = service.end_date if end is None else min(end, service.end_date)
    return start, end


def _recurring_line(
    charge: ChargeInput, service_month: Period, services_by_id: Mapping[int, ServiceInput]
) -> Line | None:
    service = _service_of(charge, services_by_id)
    if service is not None and (service.status == "cancelled" or service.exclude_next_invoice):
        return None
    cycle_months = FREQUENCY_MONTHS[charge.frequency]
    started = charge.effective_from  # months_in == service_month.months_since(Period.of(started))
    months_in = (service_month.year - started.year) * 12 + (service_month.month - started.month)
    if months_in < 0 or months_in % cycle_months != 0:
        return None  # the service month does not start a cycle of this charge
    cycle_start, cycle_end, cycle_days = _cycle(service_month, cycle_months)
    start, end = _window(charge, service)
    covered_start = max(cycle_start, start)
    covered_end = cycle_end if end is None else min(cycle_end, end)
    if covered_end < covered_start:
        return None
    covered_days = (covered_end - covered_start).days + 1
    first_day = (covered_start - cycle_start).days + 1
    last_day = (covered_end - cycle_start).days + 1
    span = _date_range(covered_start, covered_end)
    if covered_days == cycle_days:
        description = f"{charge.description} ({span})"
    else:
        description = f"{charge.description} ({span}, pro-rata {covered_days}/{cycle_days} days)"
    return Line(
        kind=RECURRING,
        source_id=charge.id,
        description=description,
        quantity=charge.quantity,
        unit_price=charge.unit_price,
        amount=prorated_amount(
            charge.unit_price, charge.quantity, first_day=first_day, last_day=last_day, days=cycle_days
        ),
        taxable=charge.taxable,
        period_start=covered_start,
        period_end=covered_end,
        unit_cost=charge.unit_cost,
        cost=None
        if charge.unit_cost is None
        else prorated_amount(
            charge.unit_cost, charge.quantity, first_day=first_day, last_day=last_day, days=cycle_days
        ),
        service_id=charge.service_id,
    )


@lru_cache(maxsize=64)
def _cycle(service_month: Period, months: int) -> tuple[date, date, int]:
    """First day, last day and length in days of the `months`-month cycle starting `service_month`.

    The same few values for every charge of a run, so computed once each.
    """
    first = service_month.first_day
    last = service_month.plus(months - 1).last_day
    return first, last, (last - first).days + 1


def _once_off_line(item: OnceOffInput) -> Line:
    return Line(
        kind=ONCE_OFF,
        source_id=item.id,
        description=item.description,
        quantity=item.quantity,
        unit_price=item.unit_price,
        amount=line_amount(item.unit_price, item.quantity),
        taxable=item.taxable,
        period_start=item.item_date,
        period_end=item.item_date,
        unit_cost=item.unit_cost,
        cost=None if item.unit_cost is None else line_amount(item.unit_cost, item.quantity),
    )


def _day(day: date, *, with_year: bool) -> str:
    # Month names spelled here, not via strftime, so output does not depend on the process locale.
    text = f"{day.day} {_MONTH_ABBR[day.month - 1]}"
    return f"{text} {day.year}" if with_year else text


@lru_cache(maxsize=1024)
def _date_range(start: date, end: date) -> str:
    """Like "1 Dec - 31 Dec 2026" (with an en dash); the year is repeated only when the range crosses one."""
    if start.year == end.year:
        return f"{_day(start, with_year=False)} – {_day(end, with_year=True)}"
    return f"{_day(start, with_year=True)} – {_day(end, with_year=True)}"
