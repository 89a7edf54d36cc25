"""The one module that owns money: parsing, checking, rounding and showing.

Why one module: a bill is only trustworthy if every amount on it was rounded the same way, at the
same point. Everything here works on `Decimal` (or `int`); a `float` is refused with `TypeError`
because binary floating point cannot represent cents (0.1 + 0.2 != 0.3) and a float that slipped in
once would make totals disagree by a cent with nobody able to say why.

Rules
- Unit prices are ex-GST with at most 4 decimal places; quantities have at most 4 decimal places.
- Line amounts, tax and totals have exactly 2 decimal places.
- Rounding is half-up (away from zero on a tie) to cents, done ONCE per amount, on the exact value:
  `line_amount` multiplies unit price, quantity and any pro-rata share as exact rationals (ratios
  of integers) and only then rounds, so `x / 31 * 17` never loses a sub-cent on the way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Final

from babel.numbers import format_currency

from core.errors import FieldErrors

CENT: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
UNIT_PRICE_PLACES: Final = 4
DEFAULT_CURRENCY: Final = "AUD"  # until the set-up names another (BillingSettings.currency)
LOCALE: Final = "en_AU"  # how amounts and dates read, on invoices and in Slack alike
QUANTITY_PLACES: Final = 4

# Digits with optional thousands separators in groups of three, and an optional fraction.
# Deliberately narrow: no exponents ("1e5"), no NaN/Infinity, no European "1.234,50".
_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.[0-9]+)?")


def require_decimal(value: object, *, what: str = "value") -> Decimal:
    """Return `value` as a Decimal, accepting only Decimal and int; refuse float (and bool) loudly.

    This is the gate that proves a float can never reach the money arithmetic.
    """
    if type(value) is Decimal:  # the common case, checked first: Decimals are immutable, no copy
        if value.is_finite():
            return value
        raise ValueError(f"{what} must be a finite number, not {value}")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{what} must be a Decimal (or int), not {type(value).__name__}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} must be a finite number, not {result}")
    return result


def quantize_money(amount: Decimal) -> Decimal:
    """Round a Decimal half-up to cents. The only place a money value is rounded."""
    return require_decimal(amount, what="amount").quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(unit_price: Decimal, quantity: Decimal, share: Fraction = Fraction(1)) -> Decimal:
    """`unit_price * quantity * share`, computed exactly and rounded once, half-up, to cents.

    `share` is the pro-rata fraction (e.g. `Fraction(17, 31)` for 17 days of a 31-day month). The
    product is kept as an exact ratio of integers, so the single rounding step sees the true value.
    """
    if not isinstance(share, Fraction | int) or isinstance(share, bool):
        raise TypeError(f"share must be a Fraction, not {type(share).__name__}")
    price_n, price_d = _ratio(unit_price, what="unit price")
    qty_n, qty_d = _ratio(quantity, what="quantity")
    return _round_ratio(price_n * qty_n * share.numerator * 100, price_d * qty_d * share.denominator)


def prorated_amount(
    unit_price: Decimal, quantity: Decimal, *, first_day: int, last_day: int, days: int
) -> Decimal:
    """The share of `unit_price * quantity` for days `first_day..last_day` (1-based) of `days`.

    Computed as the difference of two rounded running totals, `R(price * last/days) -
    R(price * (first-1)/days)`, each exact then rounded once half-up to cents. Why not round the
    piece itself: pieces that split one period must add up to the full price exactly, or a
    customer whose service changes mid-month pays a cent more than a month costs. A piece starting
    on day 1 is exactly the portal's `price / days * days_covered` rounded half-up; any other piece
    differs from it by at most one cent, always in the direction that keeps the total right.
    """
    if not 1 <= first_day <= last_day <= days:
        raise ValueError(f"days {first_day}..{last_day} are not inside 1..{days}")
    price_n, price_d = _ratio(unit_price, what="unit price")
    qty_n, qty_d = _ratio(quantity, what="quantity")
    full_n = price_n * qty_n * 100  # the full price in cents is full_n / full_d, exactly
    full_d = price_d * qty_d
    if last_day == days:  # the cycle's end: the running total is the full price (days cancel)
        upto = _round_ratio(full_n, full_d)
    else:
        upto = _round_ratio(full_n * last_day, full_d * days)
    before = _NO_CENTS if first_day == 1 else _round_ratio(full_n * (first_day - 1), full_d * days)
    return upto - before


def tax_amount(taxable_total: Decimal, rate: Decimal) -> Decimal:
    """GST on a taxable total: `taxable_total * rate`, exact, then rounded once half-up to cents."""
    total_n, total_d = _ratio(taxable_total, what="taxable total")
    rate_n, rate_d = _ratio(rate, what="tax rate")
    return _round_ratio(total_n * rate_n * 100, total_d * rate_d)


def price_from_cost(unit_cost: Decimal, margin_percent: Decimal) -> Decimal:
    """The sell price of something bought at `unit_cost` (ex-GST) with `margin_percent` on cost.

    `unit_cost * (1 + margin_percent / 100)`, exact, then rounded ONCE half-up to the cent: a unit
    price the customer can check with a calculator (cost 10.00 at 15% is 11.50; cost 0.0333 at 50%
    is 0.04995, so 0.05). This is the only place a price is derived from a cost.
    """
    cost_n, cost_d = _ratio(unit_cost, what="unit cost")
    margin_n, margin_d = _ratio(margin_percent, what="margin percent")
    # cost * (100 + margin) / 100 dollars = cost * (100 + margin) cents
    return _round_ratio(cost_n * (100 * margin_d + margin_n), cost_d * margin_d)


def margin_percent_of(revenue: Decimal, cost: Decimal) -> Decimal | None:
    """Margin as a percentage of cost ("percent on cost", like the default margin), to 2 places.

    None when nothing was costed (cost 0): a margin on nothing is not a number.
    """
    revenue = require_decimal(revenue, what="revenue")
    cost = require_decimal(cost, what="cost")
    if cost == 0:
        return None
    rev_n, rev_d = _ratio(revenue - cost, what="margin")
    cost_n, cost_d = _ratio(cost, what="cost")
    if cost_n < 0:
        return None
    return _round_ratio(rev_n * cost_d * 100 * 100, rev_d * cost_n)  # percent, in hundredths


def round_exact(value: Fraction) -> Decimal:
    """Round an exact rational amount of dollars half-up (away from zero) to cents."""
    if not isinstance(value, Fraction):
        raise TypeError(f"value must be a Fraction, not {type(value).__name__}")
    return _round_ratio(value.numerator * 100, value.denominator)


# Exact arithmetic without `Fraction`: a Decimal is exactly the ratio of two integers, so a product
# of amounts is a product of numerators over a product of denominators. Rounding that ratio once is
# what `Fraction` did, minus its gcd normalisation after every step (most of the bill run's time).


def _ratio(value: Decimal, *, what: str) -> tuple[int, int]:
    """`value` as (numerator, denominator > 0), exactly."""
    if type(value) is Decimal and value.is_finite():  # `require_decimal`'s common case, inlined: the
        return value.as_integer_ratio()  # bill run asks ~40 times an invoice line
    return require_decimal(value, what=what).as_integer_ratio()


def _round_ratio(numerator: int, denominator: int) -> Decimal:
    """Round `numerator / denominator` cents (denominator > 0) half-up, away from zero, to a cent."""
    cents = (2 * abs(numerator) + denominator) // (2 * denominator)  # floor(|x| + 1/2)
    return (Decimal(cents if numerator >= 0 else -cents) * CENT).quantize(CENT)


_NO_CENTS: Final = _round_ratio(0, 1)


def sum_money(amounts: Iterable[Decimal]) -> Decimal:
    """Add amounts that are already cents; the result is exact, so nothing is rounded here."""
    return sum((require_decimal(a, what="amount") for a in amounts), ZERO).quantize(CENT)


def decimal_places(value: Decimal) -> int:
    """How many digits `value` has after the point, ignoring trailing zeros ("1.2300" has 2)."""
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite values only; callers check is_finite first
    return max(0, -exponent)


def parse_money(text: str | Decimal | int, *, field: str, places: int = UNIT_PRICE_PLACES) -> Decimal:
    """Parse what a person typed as an amount: "1,234.50", "$1234.5", " 12 ".

    Refuses (with `FieldErrors({field: message})`) anything that is not a plain non-negative amount:
    "abc", "NaN", "Infinity", "1e5", "-3", "" and more than `places` decimal places. An existing
    Decimal/int is checked by the same rules, so the validation layer can treat both alike.
    """
    value = _parse_number(text, field=field, allow_currency=True, noun="an amount, like 1234.50")
    if decimal_places(value) > places:
        raise FieldErrors({field: f"Use at most {places} decimal places."})
    return value


def parse_quantity(text: str | Decimal | int, *, field: str = "quantity") -> Decimal:
    """Parse a quantity ("37", "2.5", "1,000"): non-negative, at most 4 decimal places.

    Range rules (greater than zero, an upper limit) belong to the validation module, not here.
    """
    value = _parse_number(text, field=field, allow_currency=False, noun="a number, like 2 or 2.5")
    if decimal_places(value) > QUANTITY_PLACES:
        raise FieldErrors({field: f"Use at most {QUANTITY_PLACES} decimal places."})
    return value


def _parse_number(text: str | Decimal | int, *, field: str, allow_currency: bool, noun: str) -> Decimal:
    if isinstance(text, Decimal | int) and not isinstance(text, bool):
        value = Decimal(text)
        if not value.is_finite():
            raise FieldErrors({field: f"Enter {noun}."})
    elif isinstance(text, str):
        value = _parse_text(text, field=field, allow_currency=allow_currency, noun=noun)
    else:
        # float included: a float has already lost the cents we were asked to keep.
        raise TypeError(f"{field}: expected text or Decimal, not {type(text).__name__}")
    if value < 0:
        raise FieldErrors({field: "Can't be negative."})
    return value


def _parse_text(text: str, *, field: str, allow_currency: bool, noun: str) -> Decimal:
    cleaned = text.strip()
    if not cleaned:
        raise FieldErrors({field: f"Enter {noun}."})
    negative = cleaned.startswith("-")
    if negative:
        cleaned = cleaned[1:].lstrip()
    if allow_currency and cleaned.startswith("$"):
        cleaned = cleaned[1:].lstrip()
    if allow_currency and not negative and cleaned.startswith("-"):  # "$-3"
        negative, cleaned = True, cleaned[1:].lstrip()
    if not any(c in "0123456789" for c in cleaned) or not _NUMBER.fullmatch(cleaned):
        raise FieldErrors({field: f"Enter {noun}."})
    try:
        value = Decimal(cleaned.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern above already excludes this
        raise FieldErrors({field: f"Enter {noun}."}) from None
    if negative and value != 0:
        raise FieldErrors({field: "Can't be negative."})
    return value


def format_money(amount: Decimal, currency: str) -> str:
    """ "$1,234.50" for AUD, "NZD5.00" for another currency: the same on an invoice, in Slack and the CLI.

    Rounded half-up to cents first (display only), so a sub-cent unit price reads as our rounding
    would bill it rather than Babel's half-even.
    """
    return format_currency(quantize_money(amount), currency, locale=LOCALE)


def format_total(amounts: Iterable[tuple[Decimal, str]]) -> str:
    """The sum of some documents' (amount, currency) pairs, in their currency: one business bills
    in one currency, so the first names it (and an empty list reads as the default's zero)."""
    pairs = list(amounts)
    currency = pairs[0][1] if pairs else DEFAULT_CURRENCY
    return format_money(sum_money(amount for amount, _ in pairs), currency)


def format_unit_money(amount: Decimal, currency: str) -> str:
    """A unit price keeps up to 4 decimals (licences priced at $1.2345 each), at least 2."""
    return format_currency(amount, currency, locale=LOCALE, format="¤#,##0.00##", currency_digits=False)
