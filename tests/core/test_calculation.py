"""core.calculation: properties that must hold for any charge, plus the rules worth naming."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.calculation import (
    PER_INVOICE,
    PER_LINE,
    TAX_ROUNDING,
    ChargeInput,
    Line,
    OnceOffInput,
    Period,
    ServiceInput,
    bill_lines,
    line_taxes,
    monthly_run_rate,
    sane_year,
    totals,
)
from tests.harness.calculation_book import charge

CENT = Decimal("0.01")
D = Decimal

prices = st.decimals(min_value=0, max_value=Decimal("999999.9999"), places=4)
quantities = st.decimals(min_value=Decimal("0.0001"), max_value=100000, places=4)
small_prices = st.decimals(min_value=0, max_value=Decimal("5000"), places=4)
periods = st.builds(Period, st.integers(1990, 2200), st.integers(1, 12))
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))
tax_rates = st.decimals(min_value=0, max_value=Decimal("0.9999"), places=4)


def exact_half_up(value: Fraction) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def lines_for(period: Period, *charges: ChargeInput, mode: str = "advance", **kwargs: object) -> list[Line]:
    return bill_lines(
        period=period,
        mode=mode,
        charges=list(charges),
        services=kwargs.get("services", []),  # type: ignore[arg-type]
        once_offs=kwargs.get("once_offs", []),  # type: ignore[arg-type]
    )


# Period


@given(periods)
def test_period_arithmetic(period: Period) -> None:
    if sane_year(period.year):  # typed periods are refused outside the window (test_ranges)
        assert Period.parse(str(period)) == period
    assert period.next().previous() == period
    assert period.next().first_day == period.last_day + timedelta(days=1)
    assert period.days == (period.last_day - period.first_day).days + 1
    assert period.previous() < period < period.next()


def test_period_edges() -> None:
    assert str(Period(2026, 1)) == "2026-01"
    assert Period(2026, 1).previous() == Period(2025, 12)
    assert Period(2025, 12).next() == Period(2026, 1)
    assert Period(2028, 2).days == 29 and Period(2027, 2).days == 28 and Period(2100, 2).days == 28
    assert Period(2000, 2).days == 29
    for bad in ("2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"):
        with pytest.raises(ValueError):
            Period.parse(bad)
    with pytest.raises(TypeError):
        Period(2026.0, 1)  # type: ignore[arg-type]


# Totals


@given(
    st.lists(
        st.tuples(st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2), st.booleans()),
        max_size=30,
    ),
    tax_rates,
)
def test_totals_add_up(amounts: list[tuple[Decimal, bool]], rate: Decimal) -> None:
    lines = [
        Line("once_off", i, "x", Decimal(1), amount, amount, taxable, None, None)
        for i, (amount, taxable) in enumerate(amounts)
    ]
    result = totals(lines, rate)
    assert result.subtotal == sum((line.amount for line in lines), Decimal(0))
    assert result.total == result.subtotal + result.tax
    # The default: each taxable line's GST rounded once, half-up, as Xero computes it.
    per_line = [exact_half_up(Fraction(ln.amount) * Fraction(rate)) if ln.taxable else 0 for ln in lines]
    assert list(result.line_taxes) == per_line
    assert result.tax == sum(per_line, Decimal("0.00"))
    assert result.tax_rounding == TAX_ROUNDING == PER_LINE == "per-line-half-up"
    # Invoices written per invoice keep their rule; their line taxes still add up to the invoice's GST.
    old = totals(lines, rate, PER_INVOICE)
    taxable_sum = sum((line.amount for line in lines if line.taxable), Decimal(0))
    assert old.tax == exact_half_up(Fraction(taxable_sum) * Fraction(rate)) == sum(old.line_taxes, Decimal(0))
    for tax, line in zip(old.line_taxes, lines, strict=True):
        # Shared out by largest remainder: each line's GST is its exact GST rounded down or up.
        exact = Fraction(line.amount) * Fraction(rate) if line.taxable else Fraction(0)
        assert abs(Fraction(tax) - exact) < Fraction(1, 100) and (line.taxable or tax == 0)
    for value in (result.subtotal, result.tax, result.total, *result.line_taxes, *old.line_taxes):
        assert value.as_tuple().exponent == -2


def test_tax_is_rounded_per_line_by_default_and_per_invoice_when_stored_so() -> None:
    # Three lines of 0.05: per-line GST is 3 * round(0.005) = 0.03; per-invoice is round(0.015) = 0.02,
    # shared out as 0.00 + 0.01 + 0.01 (the first line gives up its cent: ties go to earlier lines).
    lines = [
        Line("once_off", i, "x", Decimal(1), Decimal("0.05"), Decimal("0.05"), True, None, None)
        for i in range(3)
    ]
    assert totals(lines, Decimal("0.10")).tax == Decimal("0.03")
    old = totals(lines, Decimal("0.10"), PER_INVOICE)
    assert (old.tax, old.line_taxes) == (Decimal("0.02"), (Decimal("0.00"), Decimal("0.01"), Decimal("0.01")))


def test_line_taxes_move_the_lines_that_rounded_furthest() -> None:
    # 0.14 -> 0.014 (rounds down by 0.004), 0.15 -> 0.015 (up by 0.005), 0.16 -> 0.016 (up by 0.004):
    # per line 0.01 + 0.02 + 0.02 = 0.05; per invoice R(0.045) = 0.05 already: nothing moves.
    # 0.15 x 3: per line 0.06, per invoice R(0.045) = 0.05: the first line moves down.
    amounts = [(Decimal("0.14"), True), (Decimal("0.15"), True), (Decimal("0.16"), True)]
    assert line_taxes(amounts, Decimal("0.1"), PER_INVOICE) == [D("0.01"), D("0.02"), D("0.02")]
    amounts = [
        (Decimal("0.15"), True),
        (Decimal("9"), False),
        (Decimal("0.15"), True),
        (Decimal("0.15"), True),
    ]
    assert line_taxes(amounts, Decimal("0.1"), PER_INVOICE) == [D("0.01"), D("0"), D("0.02"), D("0.02")]
    # Going up: 0.04 x 3 per line is 0.00 x 3, per invoice R(0.012) = 0.01: the first line takes it.
    amounts = [(Decimal("0.04"), True)] * 3
    assert line_taxes(amounts, Decimal("0.1"), PER_INVOICE) == [D("0.01"), D("0.00"), D("0.00")]
    # The cent goes to the largest remainder, not to the first line or the biggest amount:
    # 0.091 (+0.001), 0.014 (+0.004), 0.014 (+0.004): per invoice R(0.119) = 0.12, one cent to line 2.
    amounts = [(Decimal("0.91"), True), (Decimal("0.14"), True), (Decimal("0.14"), True)]
    assert line_taxes(amounts, Decimal("0.1"), PER_INVOICE) == [D("0.09"), D("0.02"), D("0.01")]
    # 0.011 (+0.001), 0.094 (+0.004), 0.011 (+0.001): R(0.116) = 0.12, the cent to the middle line.
    amounts = [(Decimal("0.11"), True), (Decimal("0.94"), True), (Decimal("0.11"), True)]
    assert line_taxes(amounts, Decimal("0.1"), PER_INVOICE) == [D("0.01"), D("0.10"), D("0.01")]
    with pytest.raises(ValueError, match="unknown tax rounding 'per-whim'"):
        line_taxes(amounts, Decimal("0.1"), "per-whim")


def test_totals_refuse_a_float_rate_even_with_nothing_taxable() -> None:
    # No taxable line means no tax arithmetic at all: only the gate at the top of totals() sees it.
    line = Line("once_off", 1, "x", Decimal(1), Decimal("5"), Decimal("5"), False, None, None)
    with pytest.raises(TypeError, match="tax_rate"):
        totals([line], 0.1)  # type: ignore[arg-type]


def test_totals_refuse_floats_and_silly_rates() -> None:
    with pytest.raises(TypeError):
        totals([], 0.1)  # type: ignore[arg-type]
    # totals' own gate, not one further down: a float is refused as a float before its value is looked at
    with pytest.raises(TypeError, match="tax_rate must be a Decimal"):
        totals([], 10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        totals([], Decimal("10"))  # 10 means 1000%: someone typed a percentage
    with pytest.raises(ValueError, match=r"a fraction such as 0\.10, not 1"):
        totals([], Decimal("1"))  # 100% is not a GST rate either


# Whole months


@given(periods, prices, quantities, st.sampled_from(["advance", "arrears"]))
def test_a_whole_month_costs_exactly_price_times_quantity(
    period: Period, price: Decimal, quantity: Decimal, mode: str
) -> None:
    service_month = period if mode == "advance" else period.previous()
    c = charge(price=price, quantity=quantity, start=service_month.first_day - timedelta(days=40))
    (line,) = lines_for(period, c, mode=mode)
    assert line.amount == exact_half_up(Fraction(price) * Fraction(quantity))
    assert (line.period_start, line.period_end) == (service_month.first_day, service_month.last_day)
    assert "pro-rata" not in line.description


@given(periods, small_prices, quantities)
def test_arrears_bills_the_previous_month_as_advance_would(
    period: Period, price: Decimal, qty: Decimal
) -> None:
    c = charge(price=price, quantity=qty, start=period.previous().first_day + timedelta(days=9))
    assert lines_for(period, c, mode="arrears") == lines_for(period.previous(), c, mode="advance")


# Pro-rata


@given(periods, small_prices, quantities, st.data())
def test_pro_rata_of_consecutive_partial_periods_never_exceeds_the_full_price(
    period: Period, price: Decimal, quantity: Decimal, data: st.DataObject
) -> None:
    """Split a month into up to four consecutive pieces (end one charge, start the next the day after)."""
    cuts = sorted(set(data.draw(st.lists(st.integers(1, period.days - 1), min_size=1, max_size=3))))
    bounds = [0, *cuts, period.days]
    pieces = []
    for number, (before, last) in enumerate(itertools.pairwise(bounds), start=1):
        start = period.first_day + timedelta(days=before) if before else date(1980, 1, 1)
        end = period.first_day + timedelta(days=last - 1) if last < period.days else None
        pieces.append(charge(id=number, price=price, quantity=quantity, start=start, end=end))
    lines = lines_for(period, *pieces)
    full = exact_half_up(Fraction(price) * Fraction(quantity))
    assert sum(line.amount for line in lines) == full  # never more, and never less either
    first = lines[0]
    # A piece from day 1 is the portal's formula, rounded once.
    assert first.amount == exact_half_up(
        Fraction(price) * Fraction(quantity) * Fraction(cuts[0], period.days)
    )
    for line in lines:
        assert Decimal(0) <= line.amount <= full
        days = (line.period_end - line.period_start).days + 1
        exact = Fraction(price) * Fraction(quantity) * Fraction(days, period.days)
        assert abs(Fraction(line.amount) - exact) <= Fraction(1, 100)  # within a cent of the exact share
        assert f"pro-rata {days}/{period.days} days" in line.description


def test_split_month_pieces_add_up_to_the_monthly_price() -> None:
    # June has 30 days; 10.01 * 15/30 = 5.005 exactly. Days 1-15: R(5.005) = 5.01. Days 16-30:
    # R(10.01) - R(5.005) = 10.01 - 5.01 = 5.00. Rounding each piece alone would bill 10.02.
    june = Period(2026, 6)
    first = charge(id=1, price="10.01", start=date(2026, 1, 1), end=date(2026, 6, 15))
    second = charge(id=2, price="10.01", start=date(2026, 6, 16))
    assert [line.amount for line in lines_for(june, first, second)] == [Decimal("5.01"), Decimal("5.00")]


@given(days, small_prices, quantities, st.integers(0, 400))
def test_every_monthly_line_is_at_most_full_price_and_pro_rated_by_days(
    start: date, price: Decimal, quantity: Decimal, length: int
) -> None:
    end = start + timedelta(days=length)
    assume(end.year <= 2200)
    c = charge(price=price, quantity=quantity, start=start, end=end)
    full = exact_half_up(Fraction(price) * Fraction(quantity))
    month = Period.of(start)
    covered = 0
    while month.first_day <= end:
        (line,) = lines_for(month, c)
        assert line.amount <= full
        assert line.period_start is not None and line.period_end is not None
        assert line.period_start >= start and line.period_end <= end
        covered += (line.period_end - line.period_start).days + 1
        month = month.next()
    assert covered == length + 1  # every day billed exactly once


@pytest.mark.parametrize(
    ("start", "period", "amount", "text"),
    [
        (
            date(2026, 1, 31),
            Period(2026, 1),
            Decimal("3.23"),
            "31 Jan – 31 Jan 2026, pro-rata 1/31 days",
        ),  # 100/31
        (date(2026, 1, 31), Period(2026, 2), Decimal("100.00"), "1 Feb – 28 Feb 2026)"),
        (
            date(2028, 2, 29),
            Period(2028, 2),
            Decimal("3.45"),
            "29 Feb – 29 Feb 2028, pro-rata 1/29 days",
        ),  # 100/29
        (date(2028, 2, 1), Period(2028, 2), Decimal("100.00"), "1 Feb – 29 Feb 2028)"),
        (date(2027, 2, 15), Period(2027, 2), Decimal("50.00"), "15 Feb – 28 Feb 2027, pro-rata 14/28 days"),
        (date(2028, 2, 15), Period(2028, 2), Decimal("51.72"), "15 Feb – 29 Feb 2028, pro-rata 15/29 days"),
    ],
)
def test_leap_years_and_month_ends(start: date, period: Period, amount: Decimal, text: str) -> None:
    (line,) = lines_for(period, charge(start=start))
    assert line.amount == amount
    assert line.description == f"Managed services ({text}" + ("" if text.endswith(")") else ")")


def test_annual_charge_from_29_february() -> None:
    c = charge(frequency="annually", start=date(2028, 2, 29), price="1200")
    (first,) = lines_for(Period(2028, 2), c)
    # Nominal cycle 1 Feb 2028 to 31 Jan 2029 = 366 days; covered from 29 Feb = 338 days.
    assert first.amount == exact_half_up(Fraction(1200) * Fraction(338, 366)) == Decimal("1108.20")
    assert lines_for(Period(2028, 3), c) == []
    (second,) = lines_for(Period(2029, 2), c)
    assert second.amount == Decimal("1200.00")
    assert second.description == "Managed services (1 Feb 2029 – 31 Jan 2030)"


# Services


def test_a_charge_needs_its_service_in_the_inputs() -> None:
    with pytest.raises(ValueError, match="service 9"):
        lines_for(Period(2026, 1), charge(service_id=9))


@pytest.mark.parametrize(
    "service",
    [
        ServiceInput(5, "cancelled", date(2020, 1, 1), None, False),
        ServiceInput(5, "active", date(2020, 1, 1), None, True),
        ServiceInput(5, "active", date(2020, 1, 1), date(2025, 12, 31), False),
    ],
    ids=["cancelled", "excluded", "ended-before-month"],
)
def test_a_cancelled_or_excluded_service_takes_its_charges_with_it(service: ServiceInput) -> None:
    assert lines_for(Period(2026, 1), charge(service_id=5), services=[service]) == []


def test_unknown_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        lines_for(Period(2026, 1), mode="sideways")
    with pytest.raises(ValueError):
        charge(frequency="weekly")
    with pytest.raises(ValueError):
        ServiceInput(1, "paused", date(2020, 1, 1), None, False)


def test_floats_cannot_enter_the_inputs() -> None:
    with pytest.raises(TypeError):
        ChargeInput(1, "x", 10.5, Decimal(1), "monthly", date(2026, 1, 1), None, True, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        OnceOffInput(1, "x", Decimal(1), 2.0, date(2026, 1, 1), True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Line("once_off", 1, "x", Decimal(1), Decimal(1), 1.0, True, None, None)  # type: ignore[arg-type]


# Order and determinism


@given(st.permutations(range(6)))
def test_line_order_does_not_depend_on_input_order(order: list[int]) -> None:
    charges = [charge(id=i + 1, start=date(2026, 1, 1 + i)) for i in range(3)]
    items = [
        OnceOffInput(10, "b", Decimal(1), Decimal(1), date(2026, 1, 5), True),
        OnceOffInput(11, "a", Decimal(1), Decimal(1), date(2026, 1, 2), True),
        OnceOffInput(9, "c", Decimal(1), Decimal(1), date(2026, 1, 5), False),
    ]
    everything: list[object] = [*charges, *items]
    shuffled = [everything[i] for i in order]
    lines = lines_for(
        Period(2026, 1),
        *[c for c in shuffled if isinstance(c, ChargeInput)],
        once_offs=[i for i in shuffled if isinstance(i, OnceOffInput)],
    )
    assert [(line.kind, line.source_id) for line in lines] == [
        ("recurring", 1),
        ("recurring", 2),
        ("recurring", 3),
        ("once_off", 11),
        ("once_off", 9),
        ("once_off", 10),
    ]


def test_once_offs_after_the_period_wait() -> None:
    items = [
        OnceOffInput(1, "earlier", Decimal("5"), Decimal("2"), date(2025, 6, 1), True),
        OnceOffInput(2, "last day", Decimal("5"), Decimal("1"), date(2026, 1, 31), False),
        OnceOffInput(3, "next month", Decimal("5"), Decimal("1"), date(2026, 2, 1), True),
    ]
    lines = lines_for(Period(2026, 1), once_offs=items, mode="arrears")
    assert [(line.source_id, line.amount) for line in lines] == [(1, Decimal("10.00")), (2, Decimal("5.00"))]
    assert lines[0].period_start == lines[0].period_end == date(2025, 6, 1)


# Run rate


def test_monthly_run_rate() -> None:
    services = [ServiceInput(1, "cancelled", date(2020, 1, 1), None, False)]
    charges = [
        charge(id=1, price="100"),
        charge(id=2, price="100", frequency="quarterly"),  # 33.333…
        charge(id=3, price="100", frequency="annually"),  # 8.333…
        charge(id=4, price="999", service_id=1),  # cancelled service
        charge(id=5, price="999", end=date(2026, 1, 31)),  # ended
        charge(id=6, price="999", start=date(2026, 3, 1)),  # not started
    ]
    # 100 + 33.3333… + 8.3333… = 141.6666… → 141.67, rounded once.
    assert monthly_run_rate(charges, services, as_of=date(2026, 2, 1)) == Decimal("141.67")


# The fast path against the slow one
#
# `_recurring_line` now takes the cycle's bounds from a per-period cache, counts months from the
# date directly and rounds with integer arithmetic (`core.money`). `slow_lines` below is the code it
# replaced, Period objects and Fraction arithmetic throughout; the property checks both give the
# same lines, amounts compared digit for digit.


def _slow_round(value: Fraction) -> Decimal:
    hundredths = value * 100
    cents = int(abs(hundredths) + Fraction(1, 2))
    return (Decimal(cents if hundredths >= 0 else -cents) * CENT).quantize(CENT)


def slow_lines(period: Period, mode: str, charges: list[ChargeInput], services: list[ServiceInput]) -> list:
    service_month = period if mode == "advance" else period.previous()
    by_id = {s.id: s for s in services}
    out = []
    for c in sorted(charges, key=lambda c: c.id):
        service = by_id[c.service_id] if c.service_id is not None else None
        if service is not None and service.exclude_next_invoice:
            continue
        if service is not None and service.status == "cancelled" and service.end_date is None:
            continue  # cancelled without a last day: nothing more owed (with one: billed through it)
        months = {"monthly": 1, "quarterly": 3, "annually": 12}[c.frequency]
        months_in = service_month.months_since(Period.of(c.effective_from))
        if months_in < 0 or months_in % months != 0:
            continue
        cycle_start = service_month.first_day
        cycle_end = service_month.plus(months - 1).last_day
        start, end = c.effective_from, c.end_date
        if service is not None:
            start = max(start, service.start_date)
            if service.end_date is not None:
                end = service.end_date if end is None else min(end, service.end_date)
        covered_start = max(cycle_start, start)
        covered_end = cycle_end if end is None else min(cycle_end, end)
        if covered_end < covered_start:
            continue
        cycle_days = (cycle_end - cycle_start).days + 1
        first = (covered_start - cycle_start).days + 1
        last = (covered_end - cycle_start).days + 1
        full = Fraction(c.unit_price) * Fraction(c.quantity)
        amount = _slow_round(full * last / cycle_days) - _slow_round(full * (first - 1) / cycle_days)
        pro_rata = Fraction(last - first + 1, cycle_days) != 1
        out.append((c.id, covered_start, covered_end, amount.as_tuple(), pro_rata))
    return out


@st.composite
def books(draw: st.DrawFn) -> tuple[list[ChargeInput], list[ServiceInput]]:
    services = [
        ServiceInput(
            sid,
            draw(st.sampled_from(["active", "active", "cancelled"])),
            draw(days),
            draw(st.none() | days),
            draw(st.booleans()),
        )
        for sid in range(1, draw(st.integers(0, 2)) + 1)
    ]
    charges = []
    for cid in range(1, draw(st.integers(1, 5)) + 1):
        start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
        end = draw(st.none() | st.dates(min_value=start, max_value=date(2029, 12, 31)))
        charges.append(
            charge(
                id=cid,
                price=draw(prices),
                quantity=draw(quantities),
                frequency=draw(st.sampled_from(["monthly", "quarterly", "annually"])),
                start=start,
                end=end,
                service_id=draw(st.none() | st.sampled_from([s.id for s in services])) if services else None,
            )
        )
    return charges, services


@given(
    books(),
    st.builds(Period, st.integers(2024, 2028), st.integers(1, 12)),
    st.sampled_from(["advance", "arrears"]),
)
def test_bill_lines_fast_path_is_the_slow_path(
    book: tuple[list[ChargeInput], list[ServiceInput]], period: Period, mode: str
) -> None:
    charges, services = book
    lines = lines_for(period, *charges, mode=mode, services=services)
    fast = [
        (
            line.source_id,
            line.period_start,
            line.period_end,
            line.amount.as_tuple(),
            "pro-rata" in line.description,
        )
        for line in lines
    ]
    assert fast == slow_lines(period, mode, charges, services)
