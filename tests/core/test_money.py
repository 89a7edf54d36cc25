"""core.money: parsing what people type, and rounding once, half-up, without floats."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import FieldErrors
from core.money import (
    format_money,
    format_total,
    line_amount,
    parse_money,
    parse_quantity,
    prorated_amount,
    quantize_money,
    require_decimal,
    round_exact,
    sum_money,
    tax_amount,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.50", Decimal("1234.50")),
        ("$1234.5", Decimal("1234.5")),
        ("1234.50", Decimal("1234.50")),
        (" 12 ", Decimal("12")),
        ("0", Decimal("0")),
        ("0.0001", Decimal("0.0001")),
        (".5", Decimal("0.5")),
        ("$ 1,000,000.25", Decimal("1000000.25")),
        ("12.3400", Decimal("12.34")),  # trailing zeros are not extra precision
    ],
)
def test_parse_money_accepts_what_people_type(text: str, expected: Decimal) -> None:
    assert parse_money(text, field="unit_price") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "Enter an amount"),
        ("NaN", "Enter an amount"),
        ("nan", "Enter an amount"),
        ("Infinity", "Enter an amount"),
        ("-Infinity", "Enter an amount"),
        ("1e5", "Enter an amount"),
        ("-3", "Can't be negative"),
        ("$-3", "Can't be negative"),
        ("-$3", "Can't be negative"),
        ("", "Enter an amount"),
        ("   ", "Enter an amount"),
        ("1.23456", "at most 4 decimal places"),
        ("1,23.00", "Enter an amount"),  # a misplaced thousands separator is a typo, not 123
        ("1234,50", "Enter an amount"),  # European decimal comma: refuse rather than guess 123450
        ("12.", "Enter an amount"),
        ("$", "Enter an amount"),
        ("1 234", "Enter an amount"),
        ("١٢", "Enter an amount"),  # non-ASCII digits
    ],
)
def test_parse_money_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        parse_money(text, field="unit_price")
    assert list(caught.value.errors) == ["unit_price"]
    assert message in caught.value.errors["unit_price"]


def test_parse_money_checks_decimals_by_the_same_rules() -> None:
    assert parse_money(Decimal("5.5"), field="x") == Decimal("5.5")
    assert parse_money(7, field="x") == Decimal(7)
    for bad in (Decimal("NaN"), Decimal("Infinity"), Decimal("-1"), Decimal("0.00001")):
        with pytest.raises(FieldErrors):
            parse_money(bad, field="x")


def test_parse_quantity() -> None:
    assert parse_quantity("37") == Decimal("37")
    assert parse_quantity("2.5") == Decimal("2.5")
    assert parse_quantity("1,000") == Decimal("1000")
    for bad in ("$3", "-1", "1.00001", "two", "1e3"):
        with pytest.raises(FieldErrors) as caught:
            parse_quantity(bad)
        assert "quantity" in caught.value.errors


@pytest.mark.parametrize(
    "call",
    [
        lambda: quantize_money(1.005),  # type: ignore[arg-type]
        lambda: parse_money(1.5, field="unit_price"),  # type: ignore[arg-type]
        lambda: parse_quantity(2.5),  # type: ignore[arg-type]
        lambda: line_amount(Decimal("1"), 2.5),  # type: ignore[arg-type]
        lambda: line_amount(Decimal("1"), Decimal("1"), 0.5),  # type: ignore[arg-type]
        lambda: tax_amount(Decimal("10"), 0.1),  # type: ignore[arg-type]
        lambda: sum_money([Decimal("1"), 0.1]),  # type: ignore[list-item]
        lambda: require_decimal(True),
        lambda: round_exact(0.5),  # type: ignore[arg-type]
    ],
)
def test_a_float_cannot_reach_the_money_code(call: object) -> None:
    assert callable(call)
    with pytest.raises(TypeError):
        call()


def test_quantize_money_rounds_half_up_not_to_even() -> None:
    assert quantize_money(Decimal("0.125")) == Decimal("0.13")  # banker's rounding would give 0.12
    assert quantize_money(Decimal("0.135")) == Decimal("0.14")
    assert quantize_money(Decimal("2.344999")) == Decimal("2.34")
    assert quantize_money(Decimal("-0.125")) == Decimal("-0.13")  # away from zero
    assert str(quantize_money(Decimal("5"))) == "5.00"


def test_line_amount_rounds_once_on_the_exact_value() -> None:
    # 10.00 / 31 * 17 = 5.48387… → 5.48. Rounding the daily rate first (0.32 * 17 = 5.44) would be wrong.
    assert line_amount(Decimal("10.00"), Decimal("1"), Fraction(17, 31)) == Decimal("5.48")
    # 0.0050 * 1 = half a cent exactly → rounds up.
    assert line_amount(Decimal("0.0050"), Decimal("1")) == Decimal("0.01")
    assert line_amount(Decimal("19.9999"), Decimal("3")) == Decimal("60.00")  # 59.9997


@given(
    st.decimals(min_value=0, max_value=999999, places=4, allow_nan=False, allow_infinity=False),
    st.decimals(
        min_value=Decimal("0.0001"), max_value=100000, places=4, allow_nan=False, allow_infinity=False
    ),
)
def test_line_amount_agrees_with_decimal_half_up(price: Decimal, quantity: Decimal) -> None:
    from decimal import ROUND_HALF_UP, localcontext

    with localcontext() as context:
        context.prec = 60  # enough to make the product exact
        expected = (price * quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert line_amount(price, quantity) == expected


def test_tax_amount_and_sum() -> None:
    assert tax_amount(Decimal("123.45"), Decimal("0.1")) == Decimal("12.35")  # 12.345 → half-up
    assert sum_money([Decimal("1.10"), Decimal("2.20")]) == Decimal("3.30")
    assert sum_money([]) == Decimal("0.00")


def test_format_money() -> None:
    assert format_money(Decimal("1234.5"), "AUD") == "$1,234.50"
    assert format_money(Decimal("-3"), "AUD") == "-$3.00"
    assert format_money(Decimal("5"), "NZD") == "NZD5.00"  # another currency carries its code
    assert format_money(Decimal("0.005"), "AUD") == "$0.01"  # our half-up, not Babel's half-even
    assert format_total([(Decimal("1.10"), "NZD"), (Decimal("2.20"), "NZD")]) == "NZD3.30"
    assert format_total([]) == "$0.00"


# The integer fast path against the Fraction slow path it replaced.
#
# `line_amount`, `prorated_amount`, `tax_amount` and `round_exact` used to compute with `Fraction`
# (normalised by a gcd after every operation: most of a bill run's time). They now multiply the
# integer ratios of the Decimals and round once. The functions below are the old code, verbatim in
# substance; the properties check the new code gives the same Decimal, digit for digit (sign and
# exponent included, so "-0.00" vs "0.00" or "5.0" vs "5.00" would fail), over the validated input
# ranges and well beyond them (negative, more places, huge, tiny).


def _slow_cents(hundredths: Fraction) -> Decimal:
    magnitude = abs(hundredths)
    cents = int(magnitude + Fraction(1, 2))
    return (Decimal(cents if hundredths >= 0 else -cents) * Decimal("0.01")).quantize(Decimal("0.01"))


def slow_line_amount(unit_price: Decimal, quantity: Decimal, share: Fraction = Fraction(1)) -> Decimal:
    return _slow_cents(Fraction(unit_price) * Fraction(quantity) * Fraction(share) * 100)


def slow_prorated_amount(unit_price: Decimal, quantity: Decimal, first: int, last: int, days: int) -> Decimal:
    full = Fraction(unit_price) * Fraction(quantity)
    return _slow_cents(full * last / days * 100) - _slow_cents(full * (first - 1) / days * 100)


def slow_tax_amount(taxable_total: Decimal, rate: Decimal) -> Decimal:
    return _slow_cents(Fraction(taxable_total) * Fraction(rate) * 100)


def same(fast: Decimal, slow: Decimal) -> bool:
    return fast.as_tuple() == slow.as_tuple()


def outcome(call: Callable[[], Decimal]) -> object:
    """The result digit for digit, or the error: beyond 28 digits both paths must fail alike."""
    try:
        return call().as_tuple()
    except ArithmeticError as error:
        return type(error)


valid_prices = st.decimals(min_value=0, max_value=Decimal("999999.9999"), places=4)
valid_quantities = st.decimals(min_value=Decimal("0.0001"), max_value=100000, places=4)
# Anything finite: negative, 0-12 places, huge (products past the 28-digit context must fail alike).
any_amounts = st.one_of(
    st.integers(0, 12).flatmap(
        lambda places: st.decimals(min_value=-(10**9), max_value=10**9, places=places)
    ),
    st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent),
        st.integers(-(10**12), 10**12),
        st.integers(-12, 6),
    ),
)
cycle_days = st.sampled_from([28, 29, 30, 31, 59, 60, 61, 62, 89, 90, 91, 92, 365, 366])


@given(valid_prices, valid_quantities, cycle_days, st.data())
def test_prorated_amount_fast_path_is_the_fraction_path(
    price: Decimal, quantity: Decimal, days: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, days))
    last = data.draw(st.integers(first, days))
    fast = prorated_amount(price, quantity, first_day=first, last_day=last, days=days)
    assert same(fast, slow_prorated_amount(price, quantity, first, last, days))
    # The whole cycle (the bill run's common case) is unit price times quantity, rounded once.
    whole = prorated_amount(price, quantity, first_day=1, last_day=days, days=days)
    assert same(whole, slow_line_amount(price, quantity))
    assert same(whole, (price * quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@given(any_amounts, any_amounts, st.integers(1, 400), st.data())
def test_prorated_amount_matches_beyond_the_validated_ranges(
    price: Decimal, quantity: Decimal, days: int, data: st.DataObject
) -> None:
    first = data.draw(st.integers(1, days))
    last = data.draw(st.integers(first, days))
    assert outcome(
        lambda: prorated_amount(price, quantity, first_day=first, last_day=last, days=days)
    ) == outcome(lambda: slow_prorated_amount(price, quantity, first, last, days))


@given(
    any_amounts,
    any_amounts,
    st.one_of(
        st.fractions(min_value=-2, max_value=2, max_denominator=1000),
        st.integers(-3, 3),
    ),
)
def test_line_amount_fast_path_is_the_fraction_path(
    price: Decimal, quantity: Decimal, share: Fraction | int
) -> None:
    assert outcome(lambda: line_amount(price, quantity, share)) == outcome(
        lambda: slow_line_amount(price, quantity, Fraction(share))
    )


@given(any_amounts, st.decimals(min_value=0, max_value=Decimal("0.9999"), places=4))
def test_tax_amount_fast_path_is_the_fraction_path(total: Decimal, rate: Decimal) -> None:
    assert outcome(lambda: tax_amount(total, rate)) == outcome(lambda: slow_tax_amount(total, rate))


@given(st.fractions(min_value=-(10**9), max_value=10**9, max_denominator=10**6))
def test_round_exact_fast_path_is_the_fraction_path(value: Fraction) -> None:
    assert same(round_exact(value), _slow_cents(value * 100))


@pytest.mark.parametrize(
    ("price", "quantity", "first", "last", "days", "expected"),
    [
        ("-0.001", "1", 1, 31, 31, "0.00"),  # rounds to zero: "0.00", never "-0.00"
        ("-0.005", "1", 1, 31, 31, "-0.01"),  # half a cent, away from zero
        ("10.01", "1", 16, 30, 30, "5.00"),  # R(10.01) - R(5.005)
        ("1E+3", "1", 1, 30, 30, "1000.00"),  # exponent above -2 still gives two places
    ],
)
def test_prorated_amount_edges(
    price: str, quantity: str, first: int, last: int, days: int, expected: str
) -> None:
    fast = prorated_amount(Decimal(price), Decimal(quantity), first_day=first, last_day=last, days=days)
    assert str(fast) == expected
    assert same(fast, slow_prorated_amount(Decimal(price), Decimal(quantity), first, last, days))


def test_require_decimal_returns_decimals_as_they_are() -> None:
    value = Decimal("12.3400")
    assert require_decimal(value) is value  # immutable, so no copy is needed
    assert str(require_decimal(7)) == "7"
    with pytest.raises(ValueError):
        require_decimal(Decimal("NaN"))
    with pytest.raises(ValueError):
        require_decimal(Decimal("-Infinity"))


def test_every_gate_names_what_it_refused() -> None:
    """A refused value says which one it was: the message is what a developer debugs from."""
    from fractions import Fraction

    from core.money import line_amount, quantize_money, round_exact, tax_amount

    checks = [
        (lambda: quantize_money(0.5), "amount must be a Decimal"),  # type: ignore[arg-type]
        (lambda: tax_amount(0.5, Decimal("0.1")), "taxable total must be"),  # type: ignore[arg-type]
        (lambda: tax_amount(Decimal(1), 0.1), "tax rate must be"),  # type: ignore[arg-type]
        (lambda: line_amount(0.5, Decimal(1)), "unit price must be"),  # type: ignore[arg-type]
        (lambda: line_amount(Decimal(1), 0.5), "quantity must be"),  # type: ignore[arg-type]
        (lambda: line_amount(Decimal(1), Decimal(1), 0.5), "share must be a Fraction, not float"),  # type: ignore[arg-type]
        (lambda: round_exact(Decimal(1)), "value must be a Fraction, not Decimal"),  # type: ignore[arg-type]
    ]
    for call, message in checks:
        with pytest.raises(TypeError, match=message):
            call()
    assert line_amount(Decimal("3"), Decimal("2"), Fraction(1, 3)) == Decimal("2.00")
    assert round_exact(Fraction(-1, 200)) == Decimal("-0.01")
