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
    January. Each cycle is billed on the invoice whose service month is the cycle's first month (in
    arrears mode that is the invoice one month later: in arrears by a month, not by a cycle). The
    amount is the full cycle price `unit_price * quantity` when the whole cycle is owed; a cycle cut
    short by a start or end date is priced by the SAME piece rule as a month, over the cycle's days:
    days a..b of an n-day cycle cost `R(p·b/n) - R(p·(a-1)/n)`. That is two roundings, not one, and
    deliberately so: it is what makes the pieces of a cycle add up to its price, and a bill and a
    later credit of part of it net to the cent. Example: $300 a quarter effective 15 Oct, cycle
    1 Oct - 31 Dec (92 days), days 15..92: R(300) - R(300·14/92) = 300.00 - 45.65 = 254.35.

The ledger: catch-up, credits, the horizon (`bill`)
    Given the ledger (`core.coverage`: the days of each charge live documents billed or credited),
    the invoice bills every owed day not covered from the ledger's start through the end of the
    cycle containing the service month (earlier cycles are `catch_up` lines, split at cycle
    boundaries), and credits every covered day no longer owed, or billed at another version, at the
    price it was billed (`credit` lines, negative). Catch-up older than `horizon_months` before the
    service month is returned as `held`, not billed, unless `include_old`. Without a ledger (plain
    `bill_lines` calls) the ledger starts at the service month: just this cycle.

Services
    A charge linked to a service inherits the service's life: its `start_date`/`end_date` cut the
    charge's coverage exactly like the charge's own dates. A cancelled service bills through its end
    date (the "last day billed" asked for when cancelling; without one, nothing more). A service
    excluded from the next invoice leaves its charges off that invoice, and the days of the cycles
    it was excluded from are waived, not caught up later.

Cost (internal)
    A charge or item may carry a wholesale `unit_cost`; its line then carries `cost`, computed by the
    same rule as its amount (pro-rated by the same days, rounded once), so revenue and cost of a line
    always cover the same days. Cost never changes an amount; it is for margins, never for the
    customer (the invoice templates and exports do not read it).

Tax
    GST applies only to taxable lines and is rounded per line by default (`per-line-half-up`, what
    Xero does, so the books reproduce our totals); documents keep the method they were made with,
    and `line_taxes` gives each line's GST for either method. `total = subtotal + tax`.

Order of lines
    Charge lines by charge id, then date (a credit before a bill of the same day), then once-off
    lines by item date, then id: the same inputs always give the same invoice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any, Final

from core.coverage import (
    OPEN_END,
    Covered,
    Span,
    Version,
    intersect,
    net_coverage,
    owed_segments,
    subtract,
)
from core.money import ZERO, line_amount, prorated_amount, require_decimal, round_exact, sum_money, tax_amount

FREQUENCY_MONTHS: Final[Mapping[str, int]] = {"monthly": 1, "quarterly": 3, "annually": 12}
FREQUENCIES: Final = tuple(FREQUENCY_MONTHS)
MODES: Final = ("advance", "arrears")
SERVICE_STATUSES: Final = ("active", "cancelled")
PER_LINE: Final = "per-line-half-up"
PER_INVOICE: Final = "per-invoice-half-up"
TAX_METHODS: Final = (PER_LINE, PER_INVOICE)
TAX_ROUNDING: Final = PER_LINE  # the method new documents use; each keeps the one it was made with
RECURRING: Final = "recurring"
CATCH_UP: Final = "catch_up"
CREDIT: Final = "credit"
ONCE_OFF: Final = "once_off"
LINE_KINDS: Final = (RECURRING, CATCH_UP, CREDIT, ONCE_OFF)
CHARGE_KINDS: Final = (RECURRING, CATCH_UP, CREDIT)  # the kinds that are ledger entries
DEFAULT_HORIZON_MONTHS: Final = 3

_MONTH_ABBR: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PERIOD_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})")

# The years a person may bill or date anything in. Typed periods and dates outside it are refused
# with a field error (Slack) or a usage error (CLI): 9999-12 overflowed the month arithmetic and
# 0001-01 issued a real invoice. Internal arithmetic (Period.plus) may step outside it.
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2100
OUT_OF_RANGE: Final = f"Use a year from {FIRST_YEAR} to {LAST_YEAR}."


def sane_year(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


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
        """ "2026-12" → Period(2026, 12); anything else, or a year outside FIRST_YEAR..LAST_YEAR,
        raises ValueError (the one parser for periods typed in Slack and the CLI)."""
        match = _PERIOD_TEXT.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"a billing period looks like 2026-12, not {text!r}")
        if not sane_year(int(match[1])):
            raise ValueError(f"{text.strip()} is out of range. {OUT_OF_RANGE}")
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
    versions: tuple[Version, ...] = ()  # none: one version, the fields above, from effective_from
    unit_cost: Decimal | None = None
    quantity_feed: str | None = None

    def __post_init__(self) -> None:
        require_decimal(self.unit_price, what="unit_price")
        require_decimal(self.quantity, what="quantity")
        if self.frequency not in FREQUENCY_MONTHS:
            raise ValueError(f"charge {self.id}: unknown frequency {self.frequency!r}")

    @property
    def schedule(self) -> tuple[Version, ...]:
        """Its price and quantity over time, oldest first."""
        if self.versions:
            return self.versions
        return (Version(1, self.effective_from, self.unit_price, self.quantity),)


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

    For charge lines (`kind` recurring, catch_up or credit) `period_start`/`period_end` are the days
    billed or credited, `charge_id`/`charge_version` the ledger entry; a credit has a negative
    quantity and amount. For once-off lines both dates are the item's date.
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
    reason: str | None = None
    charge_id: int | None = None
    charge_version: int | None = None
    credits_line_id: int | None = None  # on a credit note: the invoice line it credits
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
    line_taxes: tuple[Decimal, ...] = ()  # each line's GST, adding up to `tax` (see `line_taxes`)


@dataclass(frozen=True)
class Bill:
    """An invoice's lines, and the catch-up beyond the horizon that waits for someone's decision."""

    lines: tuple[Line, ...]
    held: tuple[Line, ...] = ()


def bill(
    *,
    period: Period,
    mode: str,
    charges: Sequence[ChargeInput],
    services: Sequence[ServiceInput],
    once_offs: Sequence[OnceOffInput],
    coverage: Mapping[int, Sequence[Covered]] | None = None,
    ledger_from: Period | None = None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    include_old: bool = False,
    waived: Mapping[int, frozenset[Period]] | None = None,
) -> Bill:
    """The invoice for `period` (see the module docstring for every rule applied).

    `coverage` is the ledger by charge id (live documents' charge lines); `ledger_from` the period
    of the first invoice the ledger knows of: days in cycles that started before its service month
    count as settled (default: this invoice's own, i.e. no memory before it). `waived` lists, per service, the invoice periods
    it was excluded from. `services` must include every service a charge refers to (ValueError
    otherwise: silently dropping or billing a charge whose service we cannot see would both be
    wrong).
    """
    if mode not in MODES:
        raise ValueError(f"billing mode must be one of {MODES}, not {mode!r}")
    if horizon_months < 0:
        raise ValueError("the back-billing horizon can't be negative")
    service_month = _service_month(period, mode)
    start = service_month.first_day
    if ledger_from is not None:
        start = min(start, _service_month(ledger_from, mode).first_day)
    horizon = service_month.plus(-horizon_months)
    services_by_id = {service.id: service for service in services}
    # Per service, the service months of the invoices it was left off (once, not once per charge).
    waived_months = {
        service_id: frozenset(_service_month(p, mode) for p in periods)
        for service_id, periods in (waived or {}).items()
    }
    coverage = coverage or {}
    lines: list[Line] = []
    held: list[Line] = []
    for charge in sorted(charges, key=lambda c: c.id):
        service = _service_of(charge, services_by_id)
        billed, waiting = _charge_lines(
            charge,
            service,
            coverage.get(charge.id, ()),
            service_month=service_month,
            ledger_start=start,
            horizon=horizon,
            include_old=include_old,
            waived=waived_months.get(charge.service_id, _NOTHING_WAIVED),  # type: ignore[arg-type]
        )
        lines.extend(billed)
        held.extend(waiting)
    for item in sorted(once_offs, key=lambda i: (i.item_date, i.id)):
        if item.item_date <= period.last_day:
            lines.append(_once_off_line(item))
    return Bill(lines=tuple(lines), held=tuple(held))


def bill_lines(**kwargs: Any) -> list[Line]:
    """The lines of `bill(**kwargs)` (the held catch-up left out)."""
    return list(bill(**kwargs).lines)


def _service_month(period: Period, mode: str) -> Period:
    """The month whose service the invoice for `period` bills: itself (advance) or the one before."""
    return period if mode == "advance" else period.previous()


def totals(lines: Sequence[Line], tax_rate: Decimal, method: str = TAX_ROUNDING) -> Totals:
    """Subtotal, GST (rounded per line, or once per invoice for `PER_INVOICE`) and total of `lines`."""
    rate = require_decimal(tax_rate, what="tax_rate")
    if not ZERO <= rate < 1:
        raise ValueError(f"tax rate must be a fraction such as 0.10, not {rate}")
    subtotal = sum_money(line.amount for line in lines)
    taxes = line_taxes([(line.amount, line.taxable) for line in lines], rate, method)
    tax = sum_money(taxes)
    return Totals(
        subtotal=subtotal, tax=tax, total=subtotal + tax, tax_rounding=method, line_taxes=tuple(taxes)
    )


def line_taxes(lines: Sequence[tuple[Decimal, bool]], rate: Decimal, method: str) -> list[Decimal]:
    """Each (amount, taxable) line's GST, as the books must record it to arrive at our total.

    `PER_LINE` (the default, what Xero does itself): each taxable line's `amount * rate` rounded
    half-up once. `PER_INVOICE` (documents written before 0012): the invoice's GST is the taxable
    total times the rate rounded once; here it is shared out so the lines add up to it exactly,
    each line's own rounding moved by a cent where the remainders were largest (ties: earlier line).
    The Xero push and the export send these as each line's tax amount.
    """
    if method not in TAX_METHODS:
        raise ValueError(f"unknown tax rounding {method!r}")
    rounded = [tax_amount(amount, rate) if taxable else ZERO for amount, taxable in lines]
    if method == PER_LINE:
        return rounded
    exact = [Fraction(amount) * Fraction(rate) if taxable else Fraction(0) for amount, taxable in lines]
    target = tax_amount(sum_money(amount for amount, taxable in lines if taxable), rate)
    cents = int((target - sum_money(rounded)) * 100)
    step = Decimal("0.01") if cents > 0 else Decimal("-0.01")
    taxable = [i for i, (_, is_taxable) in enumerate(lines) if is_taxable]
    # The lines whose rounding gave away the most (or, going down, took the most) move first.
    order = sorted(taxable, key=lambda i: (-(exact[i] - Fraction(rounded[i])) * (1 if cents > 0 else -1), i))
    for i in order[: abs(cents)]:
        rounded[i] += step
    return rounded


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


def _charge_lines(
    charge: ChargeInput,
    service: ServiceInput | None,
    entries: Sequence[Covered],
    *,
    service_month: Period,
    ledger_start: date,
    horizon: Period,
    include_old: bool,
    waived: frozenset[Period],
) -> tuple[list[Line], list[Line]]:
    """One charge's lines (credits, catch-up, this cycle) and its held catch-up, from the ledger."""
    if service is not None and service.exclude_next_invoice:
        return [], []
    months = FREQUENCY_MONTHS[charge.frequency]
    anchor = _month_of(charge.effective_from)
    start, end = _window(charge, service)
    window: Span | None = (start, end or OPEN_END) if end is None or start <= end else None
    if service is not None and service.status == "cancelled" and service.end_date is None:
        window = None  # cancelled without saying when: nothing more is owed
    versions = charge.schedule
    owed = owed_segments(versions, window)
    lines: list[Line] = []
    still_owed: list[Span] = []
    for segment in net_coverage(entries, versions) if entries else ():
        if segment.count < 0:  # credited days whose bill was voided: bill the credit back first
            for piece in _pieces(segment.start, segment.end, anchor, months):
                line = _charge_line(charge, piece, segment.version, CATCH_UP, _CREDIT_REVERSED)
                lines.extend([line] * -segment.count)
            continue
        same = [o.span for o in owed if o.version == segment.version]
        kept = intersect([segment.span], same)
        still_owed.extend(kept)
        for first, last in subtract([segment.span], same):
            reason = _credit_reason(charge, service, window, first)
            for piece in _pieces(first, last, anchor, months):
                credit = _charge_line(charge, piece, segment.version, CREDIT, reason)
                lines.extend([credit] * segment.count)
        for first, last in kept if segment.count > 1 else ():
            for piece in _pieces(first, last, anchor, months):  # billed twice: credit the extra
                credit = _charge_line(charge, piece, segment.version, CREDIT, "billed twice")
                lines.extend([credit] * (segment.count - 1))
    current = _cycle_month(anchor, months, service_month)
    through = _cycle(current, months)[1]
    settled = _cycle_month(anchor, months, _month_of(ledger_start))
    if settled.first_day < ledger_start:
        settled = settled.plus(months)  # a cycle the ledger only saw part of was billed before it
    held: list[Line] = []
    for segment in owed:
        wanted = (max(segment.start, settled.first_day), min(segment.end, through))
        if wanted[0] > wanted[1]:
            continue
        for first, last in subtract([wanted], still_owed) if still_owed else [wanted]:
            for piece in _pieces(first, last, anchor, months):
                cycle = piece[2]
                if waived and any(cycle <= month < cycle.plus(months) for month in waived):
                    continue  # the service was left off that cycle's invoice: those days are waived
                if cycle == current:
                    lines.append(_charge_line(charge, piece, segment.version, RECURRING, None))
                elif _month_of(piece[0]) < horizon and not include_old:
                    held.append(_charge_line(charge, piece, segment.version, CATCH_UP, "catch-up"))
                else:
                    lines.append(_charge_line(charge, piece, segment.version, CATCH_UP, "catch-up"))
    if len(lines) > 1:
        lines.sort(key=lambda line: (line.period_start, line.kind != CREDIT))
    return lines, held


_NOTHING_WAIVED: Final[frozenset[Period]] = frozenset()


@lru_cache(maxsize=4096)
def _month_of(day: date) -> Period:
    return Period.of(day)


_CREDIT_REVERSED: Final = "reverses a credit whose invoice was voided"
_Piece = tuple[date, date, Period]  # days of one cycle, and the cycle's first month


def _pieces(first: date, last: date, anchor: Period, months: int) -> list[_Piece]:
    """Days `first..last` split where the charge's cycles (months, quarters, years) start."""
    pieces: list[_Piece] = []
    while first <= last:
        cycle = _cycle_month(anchor, months, _month_of(first))
        cycle_last = _cycle(cycle, months)[1]
        pieces.append((first, min(last, cycle_last), cycle))
        first = cycle_last + timedelta(days=1)
    return pieces


@lru_cache(maxsize=4096)
def _cycle_month(anchor: Period, months: int, month: Period) -> Period:
    """The first month of the charge's cycle that contains `month` (cycles count from `anchor`).

    Cached: a bill run asks the same few (anchor, month) pairs for every charge of the book."""
    return anchor.plus(month.months_since(anchor) // months * months)


def _charge_line(charge: ChargeInput, piece: _Piece, version: Version, kind: str, reason: str | None) -> Line:
    first, last, cycle = piece
    cycle_start, _, cycle_days = _cycle(cycle, FREQUENCY_MONTHS[charge.frequency])
    covered_days = (last - first).days + 1
    notes = [_date_range(first, last)]
    if kind == CATCH_UP:
        notes.append("catch-up")
    elif kind == CREDIT:
        notes.append(f"credit: {reason}")
    if covered_days != cycle_days:
        notes.append(f"pro-rata {covered_days}/{cycle_days} days")
    amount = prorated_amount(
        version.unit_price,
        version.quantity,
        first_day=(first - cycle_start).days + 1,
        last_day=(last - cycle_start).days + 1,
        days=cycle_days,
    )
    sign = -1 if kind == CREDIT else 1
    cost = None
    if charge.unit_cost is not None:  # internal: the same days and rule as the amount (margins)
        cost = sign * prorated_amount(
            charge.unit_cost,
            version.quantity,
            first_day=(first - cycle_start).days + 1,
            last_day=(last - cycle_start).days + 1,
            days=cycle_days,
        )
    return Line(
        kind=kind,
        source_id=charge.id,
        description=f"{charge.description} ({', '.join(notes)})",
        quantity=sign * version.quantity,
        unit_price=version.unit_price,
        amount=sign * amount,
        taxable=charge.taxable,
        period_start=first,
        period_end=last,
        reason=reason,
        charge_id=charge.id,
        charge_version=version.number,
        unit_cost=charge.unit_cost,
        cost=cost,
        service_id=charge.service_id,
    )


def _credit_reason(charge: ChargeInput, service: ServiceInput | None, window: Span | None, day: date) -> str:
    """Why billed days stopped being owed, in words for the invoice line."""
    if window is not None and window[0] <= day <= window[1]:
        return "price or quantity changed"
    if window is not None and day < window[0]:
        return f"starts {_day(window[0], with_year=True)}"
    if (
        service is not None
        and service.end_date is not None
        and (charge.end_date is None or service.end_date <= charge.end_date)
    ):
        verb = "cancelled" if service.status == "cancelled" else "ended"
        return f"service {verb}, last day {_day(service.end_date, with_year=True)}"
    if charge.end_date is not None:
        return f"ended, last day {_day(charge.end_date, with_year=True)}"
    return "no longer billed"


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
