"""The one place that decides whether a service, recurring charge or once-off item is acceptable.

Slack modals and the CLI both hand raw input (text, or values already typed) to these functions and
get back a frozen, typed value, or `FieldErrors` naming EVERY bad field at once, keyed by field name,
so a modal can show each message beside its input in one round trip instead of one error per submit.

Checks that need the database (does the service exist, is it this customer's) live in
`core.charges`, which reports them with the same field names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from core.calculation import FREQUENCIES, OUT_OF_RANGE, sane_year
from core.errors import ErrorCollector, FieldErrors
from core.money import parse_money, parse_quantity
from core.text import clean_text
from models.charges import RecurringCharge, Service
from models.types import max_length

# Text limits come from the models' Field(max_length=...): one number, read by the forms too.
DESCRIPTION_MAX: Final = max_length(RecurringCharge, "description")
NAME_MAX: Final = max_length(Service, "name")
REFERENCE_MAX: Final = max_length(Service, "reference")
UNIT_PRICE_LIMIT: Final = Decimal("1000000")  # exclusive
QUANTITY_MAX: Final = Decimal("100000")  # inclusive
MARGIN_MAX: Final = Decimal("1000")  # percent on cost, inclusive
FEED_MAX: Final = max_length(RecurringCharge, "quantity_feed")
NEEDS_PRICE: Final = "Enter an amount, like 1234.50, or a unit cost to price it from the margin."

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]+")
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


@dataclass(frozen=True)
class RecurringChargeFields:
    """`unit_price` None means "cost plus margin": core.charges prices it when it is saved."""

    description: str
    unit_price: Decimal | None
    quantity: Decimal
    frequency: str
    effective_from: date
    end_date: date | None
    taxable: bool
    service_id: int | None
    unit_cost: Decimal | None = None
    quantity_feed: str | None = None


@dataclass(frozen=True)
class OnceOffFields:
    description: str
    unit_price: Decimal | None
    quantity: Decimal
    item_date: date
    taxable: bool
    unit_cost: Decimal | None = None


@dataclass(frozen=True)
class ServiceFields:
    name: str
    reference: str | None
    psa_reference: str | None
    start_date: date
    end_date: date | None
    margin_percent: Decimal | None = None  # overrides the default margin for its charges and usage


def validate_recurring_charge(
    *,
    description: object,
    unit_price: object,
    quantity: object,
    frequency: object,
    effective_from: object,
    end_date: object = None,
    taxable: object = True,
    service_id: object = None,
    unit_cost: object = None,
    quantity_feed: object = None,
) -> RecurringChargeFields:
    """A recurring charge as typed by a person, or FieldErrors for every field that is wrong.

    A unit price may be left out when a unit cost is given: it is then cost plus margin.
    """
    errors = ErrorCollector()
    clean_description = errors.check("description", lambda: _text(description, DESCRIPTION_MAX))
    clean_cost = errors.check("unit_cost", lambda: _optional_money(unit_cost, "unit_cost"))
    clean_price = errors.check("unit_price", lambda: _price_or_cost(unit_price, unit_cost))
    clean_feed = errors.check("quantity_feed", lambda: _optional_text(quantity_feed, FEED_MAX))
    clean_quantity = errors.check("quantity", lambda: _quantity(quantity))
    clean_frequency = errors.check("frequency", lambda: _frequency(frequency))
    start = errors.check("effective_from", lambda: _date(effective_from, field="effective_from"))
    end = errors.check("end_date", lambda: _optional_date(end_date, field="end_date"))
    clean_taxable = errors.check("taxable", lambda: _bool(taxable))
    clean_service = errors.check("service_id", lambda: _optional_id(service_id))
    if start is not None and end is not None and end < start:
        errors.add("end_date", "The end date can't be before the start (effective from) date.")
    errors.raise_if_any()
    assert clean_description is not None and clean_quantity is not None
    assert clean_frequency is not None and start is not None and clean_taxable is not None
    return RecurringChargeFields(
        description=clean_description,
        unit_price=clean_price,
        quantity=clean_quantity,
        frequency=clean_frequency,
        effective_from=start,
        end_date=end,
        taxable=clean_taxable,
        service_id=clean_service,
        unit_cost=clean_cost,
        quantity_feed=clean_feed,
    )


def validate_once_off(
    *,
    description: object,
    unit_price: object,
    quantity: object,
    item_date: object,
    taxable: object = True,
    unit_cost: object = None,
) -> OnceOffFields:
    """A once-off item as typed by a person, or FieldErrors for every field that is wrong."""
    errors = ErrorCollector()
    clean_description = errors.check("description", lambda: _text(description, DESCRIPTION_MAX))
    clean_cost = errors.check("unit_cost", lambda: _optional_money(unit_cost, "unit_cost"))
    clean_price = errors.check("unit_price", lambda: _price_or_cost(unit_price, unit_cost))
    clean_quantity = errors.check("quantity", lambda: _quantity(quantity))
    clean_date = errors.check("item_date", lambda: _date(item_date, field="item_date"))
    clean_taxable = errors.check("taxable", lambda: _bool(taxable))
    errors.raise_if_any()
    assert clean_description is not None and clean_quantity is not None
    assert clean_date is not None and clean_taxable is not None
    return OnceOffFields(
        description=clean_description,
        unit_price=clean_price,
        quantity=clean_quantity,
        item_date=clean_date,
        taxable=clean_taxable,
        unit_cost=clean_cost,
    )


def validate_service(
    *,
    name: object,
    start_date: object,
    reference: object = None,
    psa_reference: object = None,
    end_date: object = None,
    margin_percent: object = None,
) -> ServiceFields:
    """A service as typed by a person, or FieldErrors for every field that is wrong."""
    errors = ErrorCollector()
    clean_name = errors.check("name", lambda: _text(name, NAME_MAX))
    clean_reference = errors.check("reference", lambda: _optional_text(reference, REFERENCE_MAX))
    clean_psa = errors.check("psa_reference", lambda: _optional_text(psa_reference, REFERENCE_MAX))
    start = errors.check("start_date", lambda: _date(start_date, field="start_date"))
    end = errors.check("end_date", lambda: _optional_date(end_date, field="end_date"))
    margin = errors.check("margin_percent", lambda: parse_margin(margin_percent, field="margin_percent"))
    if start is not None and end is not None and end < start:
        errors.add("end_date", "The end date can't be before the start date.")
    errors.raise_if_any()
    assert clean_name is not None and start is not None
    return ServiceFields(
        name=clean_name,
        reference=clean_reference,
        psa_reference=clean_psa,
        start_date=start,
        end_date=end,
        margin_percent=margin,
    )


def validate_end_date(end_date: object, *, not_before: date, field: str = "end_date") -> date:
    """An end date for something that started on `not_before` (used when ending a charge)."""
    errors = ErrorCollector()
    end = errors.check(field, lambda: _date(end_date, field=field))
    if end is not None and end < not_before:
        errors.add(field, f"The end date can't be before the start date ({not_before.isoformat()}).")
    errors.raise_if_any()
    assert end is not None
    return end


def validate_change_from(value: object, *, not_before: date, field: str = "change_from") -> date:
    """The day a new price or quantity of a billed charge applies from ("from when?")."""
    errors = ErrorCollector()
    if value in (None, ""):
        errors.add(
            field, "This charge has been billed: say from which day the new price or quantity applies."
        )
    else:
        day = errors.check(field, lambda: _date(value, field=field))
        if day is not None and day < not_before:
            errors.add(field, f"Pick {not_before.isoformat()} or later: the charge starts then.")
    errors.raise_if_any()
    return day


# Field parsers: each raises ValueError (or FieldErrors) with a message a person can act on.


def _text(value: object, limit: int) -> str:
    if value is None:
        raise ValueError("This is required.")
    if not isinstance(value, str):
        raise TypeError(f"expected text, not {type(value).__name__}")
    cleaned = clean_text(value)
    if not cleaned:
        raise ValueError("This is required.")
    if len(cleaned) > limit:
        raise ValueError(f"Keep it to {limit} characters (this has {len(cleaned)}).")
    return cleaned


def _optional_text(value: object, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not clean_text(value)):
        return None
    return _text(value, limit)


def _unit_price(value: object) -> Decimal:
    if value is None:
        raise ValueError("Enter an amount, like 1234.50.")
    price = parse_money(value, field="unit_price")  # type: ignore[arg-type]  # floats → TypeError
    if price >= UNIT_PRICE_LIMIT:
        raise ValueError("The unit price must be less than 1,000,000.")
    return price


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _optional_money(value: object, field: str) -> Decimal | None:
    if _blank(value):
        return None
    amount = parse_money(value, field=field)  # type: ignore[arg-type]  # floats → TypeError
    if amount >= UNIT_PRICE_LIMIT:
        raise ValueError("The amount must be less than 1,000,000.")
    return amount


def _price_or_cost(price: object, cost: object) -> Decimal | None:
    """The unit price, or None ("cost plus margin") when it is blank and a cost is given."""
    if _blank(price):
        if _blank(cost):
            raise ValueError(NEEDS_PRICE)
        return None
    return _unit_price(price)


def parse_margin(value: object, *, field: str) -> Decimal | None:
    """A margin as percent on cost ("25", "12.5%"): 0 to 1,000, at most 2 decimal places; blank = None."""
    if _blank(value):
        return None
    text = value.strip().removesuffix("%") if isinstance(value, str) else value
    try:
        margin = parse_money(text, field=field, places=2)  # type: ignore[arg-type]
    except FieldErrors:
        raise FieldErrors({field: "Enter a margin as a percentage on cost, e.g. 25 or 12.5."}) from None
    if margin > MARGIN_MAX:
        raise FieldErrors({field: "A margin can be at most 1,000%."})
    return margin


def _quantity(value: object) -> Decimal:
    if value is None:
        raise ValueError("Enter a number, like 2 or 2.5.")
    quantity = parse_quantity(value, field="quantity")  # type: ignore[arg-type]  # floats → TypeError
    if quantity <= 0:
        raise ValueError("The quantity must be more than 0.")
    if quantity > QUANTITY_MAX:
        raise ValueError("The quantity can be at most 100,000.")
    return quantity


def _frequency(value: object) -> str:
    cleaned = value.strip().lower() if isinstance(value, str) else None
    if cleaned not in FREQUENCIES:
        raise ValueError("Choose monthly, quarterly or annually.")
    return cleaned


def _date(value: object, *, field: str) -> date:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("Enter a date (YYYY-MM-DD).")
    if isinstance(value, date) and not isinstance(value, datetime):  # a datetime is a date too
        if not sane_year(value.year):
            raise ValueError(OUT_OF_RANGE)
        return value
    if isinstance(value, str):
        cleaned = value.strip()
        if _ISO_DATE.fullmatch(cleaned):
            try:
                day = date.fromisoformat(cleaned)
            except ValueError:
                raise ValueError(f"{cleaned} is not a real date.") from None
            if not sane_year(day.year):
                raise ValueError(OUT_OF_RANGE)
            return day
        raise ValueError("Enter a date as YYYY-MM-DD, e.g. 2026-12-01.")
    raise TypeError(f"{field}: expected a date or YYYY-MM-DD text, not {type(value).__name__}")


def _optional_date(value: object, *, field: str) -> date | None:
    if value is None or (isinstance(value, str) and not clean_text(value)):
        return None
    return _date(value, field=field)


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("Answer yes or no.")


def _optional_id(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not clean_text(value)):
        return None
    if isinstance(value, bool):
        raise ValueError("Choose a service.")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError("Choose a service.")
    if number <= 0:
        raise ValueError("Choose a service.")
    return number
