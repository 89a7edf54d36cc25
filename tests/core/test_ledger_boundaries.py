"""Boundaries that mutation testing found unguarded (bench/MUTATION.md), each hand-worked.

Pure (no database), so `mutmut` runs them for every mutant of core/money.py, core/coverage.py and
core/calculation.py. Each test names the mutant group it kills; the working is in the comments.
Piece rule: days a..b of an n-day cycle at price p bill `R(p·b/n) - R(p·(a-1)/n)`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from core.calculation import (
    CATCH_UP,
    CREDIT,
    PER_INVOICE,
    RECURRING,
    Line,
    OnceOffInput,
    Period,
    ServiceInput,
    _day,
    bill,
    line_taxes,
    monthly_run_rate,
    totals,
)
from core.coverage import Covered, Version, owed_segments
from core.errors import FieldErrors
from core.money import (
    decimal_places,
    format_money,
    margin_percent_of,
    parse_money,
    parse_quantity,
    price_from_cost,
    prorated_amount,
    require_decimal,
    round_exact,
    sum_money,
)
from tests.harness.calculation_book import billed, nbn

D = Decimal
DEC, JAN = Period(2026, 12), Period(2027, 1)


def run(
    period: Period, charge: object, *, services: tuple[ServiceInput, ...] = (), **options: object
) -> object:
    defaults: dict[str, object] = {"coverage": {}, "ledger_from": Period(2026, 12)}
    return bill(
        period=period,
        mode="advance",
        charges=[charge],  # type: ignore[list-item]
        services=list(services),
        once_offs=[],
        **(defaults | options),  # type: ignore[arg-type]
    )


def shown(lines: tuple[Line, ...]) -> list[tuple[str, D, str | None, int | None]]:
    return [(ln.kind, ln.amount, ln.reason, ln.charge_version) for ln in lines]


def back_into_ledger(lines: tuple[Line, ...]) -> tuple[Covered, ...]:
    """What the bill run stores: each charge line becomes a ledger entry (see core.ledger)."""
    return tuple(
        Covered(
            7,
            ln.period_start,
            ln.period_end,
            ln.unit_price,
            abs(ln.quantity),
            ln.charge_version or 1,
            ln.kind == CREDIT,
        )  # type: ignore[arg-type]
        for ln in lines
    )


# --- net_coverage's stand-in version (a billed line whose version was since rewritten) ------------


def test_a_corrected_price_is_credited_once_and_the_next_run_is_quiet() -> None:
    """December was billed at 100 under version 1; version 1's price was then corrected to 120
    (`edit` with the version's own start date rewrites it). January: credit December at the price
    it was billed (-100.00, version 1, reason "price or quantity changed" since 1 Dec is the
    charge's first day, inside its window), bill December again at 120, and January at 120. The
    credit is stored under version 1 at 100, so in February it nets with December's bill: nothing
    but February's 120.00 (before the fix it was "billed back" and credited again every month)."""
    charge = nbn(unit_price=D("120"), effective_from=date(2026, 12, 1))
    december = (billed(date(2026, 12, 1), date(2026, 12, 31)),)
    january = run(JAN, charge, coverage={7: december})
    assert shown(january.lines) == [  # type: ignore[attr-defined]
        (CREDIT, D("-100.00"), "price or quantity changed", 1),
        (CATCH_UP, D("120.00"), "catch-up", 1),
        (RECURRING, D("120.00"), None, 1),
    ]
    assert [ln.quantity for ln in january.lines] == [D("-1"), D("1"), D("1")]  # type: ignore[attr-defined]
    assert [ln.cost for ln in january.lines] == [None] * 3  # type: ignore[attr-defined]  # no cost given
    ledger = december + back_into_ledger(january.lines)  # type: ignore[attr-defined]
    february = run(Period(2027, 2), charge, coverage={7: ledger})
    assert shown(february.lines) == [(RECURRING, D("120.00"), None, 1)]  # type: ignore[attr-defined]
    march = run(Period(2027, 3), charge, coverage={7: ledger + back_into_ledger(february.lines)})  # type: ignore[attr-defined]
    assert shown(march.lines) == [(RECURRING, D("120.00"), None, 1)]  # type: ignore[attr-defined]


# --- _credit_reason: which words a credit carries, at each boundary -------------------------------


def test_a_credit_starting_on_the_windows_last_day_is_a_price_change() -> None:
    """Charge ends 31 Dec; its price changes from 31 Dec (version 2). Credit 31 Dec at 100:
    R(100·31/31) - R(100·30/31) = 100.00 - 96.77 = 3.23; bill it at 120: 120.00 - 116.13 = 3.87.
    31 Dec is inside the window (its last day), so the reason is the price change, not the end."""
    versions = (
        Version(1, date(2026, 1, 1), D("100"), D("1")),
        Version(2, date(2026, 12, 31), D("120"), D("1")),
    )
    charge = nbn(unit_price=D("120"), end_date=date(2026, 12, 31), versions=versions)
    result = run(JAN, charge, coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)})
    assert shown(result.lines) == [  # type: ignore[attr-defined]
        (CREDIT, D("-3.23"), "price or quantity changed", 1),
        (CATCH_UP, D("3.87"), "catch-up", 2),
    ]


def test_service_and_charge_ending_the_same_day_credit_as_the_service() -> None:
    """Both end 10 Dec: the service's end is the reason (it is the one that took effect). Credit
    11..31 Dec: R(100) - R(100·10/31) = 100.00 - 32.26 = 67.74."""
    charge = nbn(service_id=3, end_date=date(2026, 12, 10))
    service = ServiceInput(3, "active", date(2026, 1, 1), date(2026, 12, 10), False)
    result = run(
        JAN, charge, services=(service,), coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)}
    )
    assert shown(result.lines) == [(CREDIT, D("-67.74"), "service ended, last day 10 Dec 2026", 1)]  # type: ignore[attr-defined]


def test_a_charge_ending_before_its_service_credits_from_its_own_end() -> None:
    """Charge ends 10 Dec, service 20 Dec: the window ends 10 Dec (the earlier), so 11..31 Dec is
    credited, 67.74 as above, as the charge's end (not the service's)."""
    charge = nbn(service_id=3, end_date=date(2026, 12, 10))
    service = ServiceInput(3, "active", date(2026, 1, 1), date(2026, 12, 20), False)
    result = run(
        JAN, charge, services=(service,), coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)}
    )
    assert shown(result.lines) == [(CREDIT, D("-67.74"), "ended, last day 10 Dec 2026", 1)]  # type: ignore[attr-defined]


def test_cancelled_without_a_last_day_is_no_longer_billed() -> None:
    """A service cancelled with no end date owes nothing: December's 100.00 comes back in full."""
    charge = nbn(service_id=3)
    service = ServiceInput(3, "cancelled", date(2026, 1, 1), None, False)
    result = run(
        JAN, charge, services=(service,), coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)}
    )
    assert shown(result.lines) == [(CREDIT, D("-100.00"), "no longer billed", 1)]  # type: ignore[attr-defined]
    assert "credit: no longer billed" in result.lines[0].description  # type: ignore[attr-defined]


def test_a_service_ended_before_the_charge_starts_credits_as_the_service() -> None:
    """December billed; then the charge's start moved to 20 Dec and the service ended 10 Dec: the
    charge may bill no day at all (no window), and the reason is the service's end, not "starts"."""
    charge = nbn(service_id=3, effective_from=date(2026, 12, 20))
    service = ServiceInput(3, "active", date(2026, 1, 1), date(2026, 12, 10), False)
    result = run(
        JAN, charge, services=(service,), coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)}
    )
    assert shown(result.lines) == [(CREDIT, D("-100.00"), "service ended, last day 10 Dec 2026", 1)]  # type: ignore[attr-defined]


# --- _charge_lines: waived cycles, the horizon on quarterly pieces, loops that must go on ----------


def test_a_waived_month_waives_its_own_cycle_only() -> None:
    """$100/month from 1 Nov, entered after November's invoice; the service was left off December's
    invoice (waived). January: November is caught up (100.00), December stays waived, January
    100.00. The month after a cycle (December for November's) does not waive that cycle."""
    charge = nbn(service_id=3, effective_from=date(2026, 11, 1))
    service = ServiceInput(3, "active", date(2026, 1, 1), None, False)
    result = run(JAN, charge, services=(service,), ledger_from=Period(2026, 11), waived={3: frozenset({DEC})})
    assert [(ln.kind, ln.period_start, ln.amount) for ln in result.lines] == [  # type: ignore[attr-defined]
        (CATCH_UP, date(2026, 11, 1), D("100.00")),
        (RECURRING, date(2027, 1, 1), D("100.00")),
    ]


def test_a_quarter_is_held_by_the_month_it_starts() -> None:
    """$300/quarter from 1 Jul (quarters Jul, Oct). December's horizon (3 months) is September:
    the July quarter starts before it, so it is held whole (300.00) even though it ends in
    September; the October quarter is the one December bills (300.00)."""
    charge = nbn(unit_price=D("300"), frequency="quarterly", effective_from=date(2026, 7, 1))
    result = run(DEC, charge, ledger_from=Period(2026, 1))
    assert [(ln.kind, ln.period_start, ln.period_end, ln.amount) for ln in result.lines] == [  # type: ignore[attr-defined]
        (RECURRING, date(2026, 10, 1), date(2026, 12, 31), D("300.00"))
    ]
    (held,) = result.held  # type: ignore[attr-defined]
    assert (held.kind, held.reason, held.period_start, held.period_end, held.amount) == (
        CATCH_UP,
        "catch-up",
        date(2026, 7, 1),
        date(2026, 9, 30),
        D("300.00"),
    )
    assert held.description == "NBN 100 (1 Jul – 30 Sep 2026, catch-up)"


def test_a_version_ended_before_the_ledger_does_not_stop_the_next() -> None:
    """Version 1 (100) ran Jan..May, version 2 (120) from 1 Jun; the ledger starts in December.
    Version 1 owes nothing the ledger bills (skipped), version 2 bills December: 120.00."""
    versions = (
        Version(1, date(2026, 1, 1), D("100"), D("1")),
        Version(2, date(2026, 6, 1), D("120"), D("1")),
    )
    result = run(DEC, nbn(unit_price=D("120"), versions=versions))
    assert shown(result.lines) == [(RECURRING, D("120.00"), None, 2)]  # type: ignore[attr-defined]


def test_a_credit_billed_back_does_not_stop_the_days_after_it() -> None:
    """December: a live credit whose bill was voided (count -1); January: billed. January's
    invoice bills the credit back (+100.00), catches December up again (+100.00), and leaves the
    already-billed January alone: the segment after the reversal is still read."""
    coverage = (
        billed(date(2026, 12, 1), date(2026, 12, 31), credit=True),
        billed(date(2027, 1, 1), date(2027, 1, 31)),
    )
    result = run(JAN, nbn(), coverage={7: coverage})
    assert shown(result.lines) == [  # type: ignore[attr-defined]
        (CATCH_UP, D("100.00"), "reverses a credit whose invoice was voided", 1),
        (CATCH_UP, D("100.00"), "catch-up", 1),
    ]


def test_a_once_off_keeps_its_description_and_cost() -> None:
    """2 routers at 199.00 costing 150.00 each: the line is 398.00, its (internal) cost 300.00."""
    item = OnceOffInput(
        id=5,
        description="Router",
        unit_price=D("199"),
        quantity=D("2"),
        item_date=date(2026, 12, 5),
        taxable=True,
        unit_cost=D("150"),
    )
    result = bill(period=DEC, mode="advance", charges=[], services=[], once_offs=[item])
    assert [(ln.description, ln.amount, ln.unit_cost, ln.cost) for ln in result.lines] == [
        ("Router", D("398.00"), D("150"), D("300.00"))
    ]


def test_a_day_shows_its_year_only_when_asked() -> None:
    """Called directly: `_date_range` is cached, so under mutmut (workers forked after a warm-up
    run) a mutant of `_day` would otherwise only ever be seen through stale cached text."""
    assert (_day(date(2026, 12, 1), with_year=False), _day(date(2026, 12, 1), with_year=True)) == (
        "1 Dec",
        "1 Dec 2026",
    )


def test_bill_refusals_say_what_was_wrong() -> None:
    with pytest.raises(ValueError, match=r"^billing mode must be one of .*, not 'weekly'$"):
        bill(period=DEC, mode="weekly", charges=[], services=[], once_offs=[])
    with pytest.raises(ValueError, match=r"^the back-billing horizon can't be negative$"):
        bill(period=DEC, mode="advance", charges=[], services=[], once_offs=[], horizon_months=-1)


# --- line_taxes: more than a dollar of cents to share out ------------------------------------------


def test_per_invoice_gst_moves_more_than_a_hundred_cents() -> None:
    """250 taxable lines of 0.05 at 10%: each line's GST 0.005 rounds half-up to 0.01 (2.50 in
    all), but the invoice's GST is R(12.50 x 10%) = 1.25: 125 lines give a cent back."""
    taxes = line_taxes([(D("0.05"), True)] * 250, D("0.1"), PER_INVOICE)
    assert sum(taxes) == D("1.25")
    assert taxes.count(D("0.00")) == 125 and taxes.count(D("0.01")) == 125
    assert taxes[:125] == [D("0.00")] * 125  # ties: the earlier lines move first


# --- monthly_run_rate: in force on the day, quantity counted, a cancelled service skipped ----------


def test_monthly_run_rate_boundaries() -> None:
    """As of 10 Dec: a cancelled service's charge (skipped, and the next charge still counted);
    2 x $30 starting that very day (60.00); $90/quarter ending that very day (30.00); a charge whose
    service ended the day before (0), and one starting the day after (0). Total 90.00."""
    services = [
        ServiceInput(3, "cancelled", date(2026, 1, 1), None, False),
        ServiceInput(4, "active", date(2026, 1, 1), date(2026, 12, 9), False),
    ]
    charges = [
        nbn(id=1, service_id=3),
        nbn(id=2, unit_price=D("30"), quantity=D("2"), effective_from=date(2026, 12, 10)),
        nbn(id=3, unit_price=D("90"), frequency="quarterly", end_date=date(2026, 12, 10)),
        nbn(id=4, service_id=4),
        nbn(id=5, effective_from=date(2026, 12, 11)),
    ]
    assert monthly_run_rate(charges, services, as_of=date(2026, 12, 10)) == D("90.00")


# --- Period and money: edges of the accepted range, and what a person is told ----------------------


def test_period_accepts_years_1_to_9999_only() -> None:
    assert (Period(1, 1).year, Period(9999, 12).year) == (1, 9999)
    for year in (0, 10000):
        with pytest.raises(ValueError, match=f"^not a month: {year}-1$"):
            Period(year, 1)
    with pytest.raises(ValueError, match="looks like 2026-12"):
        Period.parse(202612)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^1999-12 is out of range\. Use a year from 2000 to 2100\.$"):
        Period.parse(" 1999-12 ")


def test_money_edges() -> None:
    assert (format_money(D("0"), "AUD"), format_money(D("0.50"), "AUD"), format_money(D("-0.50"), "AUD")) == (
        "$0.00",
        "$0.50",
        "-$0.50",
    )
    assert decimal_places(D("5")) == 0
    assert parse_quantity("1.2345") == D("1.2345")  # exactly QUANTITY_PLACES (4) decimals: accepted
    with pytest.raises(FieldErrors) as caught:
        parse_quantity("1.23456")
    assert "quantity" in caught.value.errors


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (lambda t: parse_quantity(t), "- 2", "Can't be negative."),  # "-" then a space
        (lambda t: parse_quantity(t), D("-2"), "Can't be negative."),
        (lambda t: parse_quantity(t), "two", "Enter a number, like 2 or 2.5."),
        (lambda t: parse_money(t, field="quantity"), "$- 3", "Can't be negative."),  # "$-" then a space
    ],
)
def test_what_a_person_is_told(parse: object, text: object, message: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        parse(text)  # type: ignore[operator]
    assert caught.value.errors == {"quantity": message}


# --- the float gates name what they refused (a developer reading the error finds the field) ---------


def _charge(**fields: object) -> object:
    return nbn(**fields)


def _line(**fields: object) -> Line:
    values: dict[str, object] = {
        "kind": RECURRING,
        "source_id": 1,
        "description": "x",
        "quantity": D("1"),
        "unit_price": D("1"),
        "amount": D("1.00"),
        "taxable": True,
        "period_start": None,
        "period_end": None,
    }
    return Line(**(values | fields))  # type: ignore[arg-type]


def _once_off(**fields: object) -> OnceOffInput:
    values: dict[str, object] = {
        "id": 1,
        "description": "x",
        "unit_price": D("1"),
        "quantity": D("1"),
        "item_date": date(2026, 12, 1),
        "taxable": True,
    }
    return OnceOffInput(**(values | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (_charge, "unit_price"),
        (_charge, "quantity"),
        (_line, "amount"),
        (_line, "quantity"),
        (_line, "unit_price"),
        (_once_off, "unit_price"),
        (_once_off, "quantity"),
    ],
)
def test_inputs_refuse_a_float_by_name(make: object, field: str) -> None:
    with pytest.raises(TypeError, match=f"^{field} must be a Decimal \\(or int\\), not float$"):
        make(**{field: 1.5})  # type: ignore[operator]


def test_money_gates_name_what_they_refused() -> None:
    with pytest.raises(TypeError, match=r"^tax_rate must be a Decimal \(or int\), not float$"):
        totals([], 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^amount must be a Decimal \(or int\), not float$"):
        sum_money([1.5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^unit price must be a Decimal \(or int\), not float$"):
        prorated_amount(1.5, D("1"), first_day=1, last_day=1, days=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^quantity must be a Decimal \(or int\), not float$"):
        prorated_amount(D("1"), 1.5, first_day=1, last_day=1, days=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^days 2\.\.1 are not inside 1\.\.31$"):
        prorated_amount(D("1"), D("1"), first_day=2, last_day=1, days=31)
    with pytest.raises(TypeError, match=r"^value must be a Decimal \(or int\), not str$"):
        require_decimal("1")
    with pytest.raises(ValueError, match=r"^price must be a finite number, not NaN$"):
        require_decimal(D("NaN"), what="price")
    with pytest.raises(TypeError, match=r"^quantity: expected text or Decimal, not float$"):
        parse_quantity(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^Period\.year must be an int$"):
        Period("2026", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^charge 7: unknown frequency 'weekly'$"):
        nbn(frequency="weekly")
    with pytest.raises(ValueError, match=r"^service 3: unknown status 'paused'$"):
        ServiceInput(3, "paused", date(2026, 1, 1), None, False)


def test_zero_is_never_negative_zero() -> None:
    """A zero amount prints as 0.00 (JSON, CSV), never -0.00."""
    assert str(round_exact(Fraction(0))) == "0.00"
    assert str(monthly_run_rate([], [], as_of=date(2026, 12, 1))) == "0.00"


# --- cost (internal, margins) follows the amount's days; the line keeps its service -----------------


def test_a_credit_carries_its_cost_quantity_and_service() -> None:
    """2 x $100 costing $60 each, service 3, December billed; charge ended 10 Dec. Credit 11..31:
    amount R(200) - R(200·10/31) = 200.00 - 64.52 = 135.48; cost R(120) - R(120·10/31) =
    120.00 - 38.71 = 81.29; both negative, quantity -2."""
    charge = nbn(quantity=D("2"), unit_cost=D("60"), service_id=3, end_date=date(2026, 12, 10))
    service = ServiceInput(3, "active", date(2026, 1, 1), None, False)
    december = Covered(7, date(2026, 12, 1), date(2026, 12, 31), D("100"), D("2"), 1, False)
    result = run(JAN, charge, services=(service,), coverage={7: (december,)})
    (line,) = result.lines  # type: ignore[attr-defined]
    assert (line.kind, line.quantity, line.amount, line.unit_cost, line.cost, line.service_id) == (
        CREDIT,
        D("-2"),
        D("-135.48"),
        D("60"),
        D("-81.29"),
        3,
    )


def test_three_versions_each_end_the_day_before_the_next() -> None:
    v1 = Version(1, date(2026, 1, 1), D("100"), D("1"))
    v2 = Version(2, date(2026, 3, 1), D("110"), D("1"))
    v3 = Version(3, date(2026, 6, 1), D("120"), D("1"))
    found = owed_segments([v3, v1, v2], (date(2026, 1, 1), date(2026, 12, 31)))
    assert [(s.start, s.end, s.version.number) for s in found] == [
        (date(2026, 1, 1), date(2026, 2, 28), 1),
        (date(2026, 3, 1), date(2026, 5, 31), 2),
        (date(2026, 6, 1), date(2026, 12, 31), 3),
    ]


def test_billing_periods_span_2000_to_2100() -> None:
    assert (Period.parse("2000-01"), Period.parse("2100-12")) == (Period(2000, 1), Period(2100, 12))


@pytest.mark.parametrize(
    ("cost", "margin", "price"),
    [("10.00", "15", "11.50"), ("0.0333", "50", "0.05"), ("19.99", "12.5", "22.49"), ("10", "-20", "8.00")],
)
def test_price_from_cost(cost: str, margin: str, price: str) -> None:
    """cost x (1 + margin/100), rounded once: 19.99 x 1.125 = 22.48875 -> 22.49; 10 x 0.8 = 8.00."""
    assert str(price_from_cost(D(cost), D(margin))) == price


def test_margin_percent_of() -> None:
    """(revenue - cost) / cost x 100 to 2 places, half away from zero: (1 - 3)/3 = -66.67%,
    (2 - 3)/3 = -33.33%, (23 - 20)/20 = 15.00%, 0 - 50 = -100.00%; no cost, or a negative one: None."""
    assert [
        margin_percent_of(D(r), D(c)) for r, c in [("1", "3"), ("2", "3"), ("23", "20"), ("0", "50")]
    ] == [
        D("-66.67"),
        D("-33.33"),
        D("15.00"),
        D("-100.00"),
    ]
    assert margin_percent_of(D("3"), D("2.5")) == D("20.00")  # 0.5 / 2.5: a cost with cents
    assert margin_percent_of(D("5"), D("0")) is None and margin_percent_of(D("5"), D("-1")) is None
    with pytest.raises(TypeError, match=r"^revenue must be a Decimal"):
        margin_percent_of(1.5, D("1"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^cost must be a Decimal"):
        margin_percent_of(D("1"), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^unit cost must be a Decimal"):
        price_from_cost(1.5, D("1"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^margin percent must be a Decimal"):
        price_from_cost(D("1"), 1.5)  # type: ignore[arg-type]
