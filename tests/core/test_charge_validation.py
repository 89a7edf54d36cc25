"""core.charge_validation: every rule, and every field's error reported in one go."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.charge_validation import (
    OnceOffFields,
    RecurringChargeFields,
    ServiceFields,
    validate_end_date,
    validate_once_off,
    validate_recurring_charge,
    validate_service,
)
from core.errors import FieldErrors

GOOD_CHARGE: dict[str, Any] = {
    "description": "  Microsoft 365 Business Premium ",
    "unit_price": "$1,234.50",
    "quantity": "37",
    "frequency": "Monthly",
    "effective_from": "2026-12-01",
    "end_date": "",
    "taxable": True,
    "service_id": None,
}


def charge_errors(**overrides: Any) -> dict[str, str]:
    with pytest.raises(FieldErrors) as caught:
        validate_recurring_charge(**{**GOOD_CHARGE, **overrides})
    return caught.value.errors


def test_a_good_recurring_charge_comes_back_typed_and_clean() -> None:
    result = validate_recurring_charge(**GOOD_CHARGE)
    assert result == RecurringChargeFields(
        description="Microsoft 365 Business Premium",
        unit_price=Decimal("1234.50"),
        quantity=Decimal("37"),
        frequency="monthly",
        effective_from=date(2026, 12, 1),
        end_date=None,
        taxable=True,
        service_id=None,
    )
    with pytest.raises(AttributeError):
        result.description = "x"  # type: ignore[misc]


def test_typed_values_are_accepted_too() -> None:
    result = validate_recurring_charge(
        description="x",
        unit_price=Decimal("0"),
        quantity=Decimal("2.5"),
        frequency="annually",
        effective_from=date(2026, 1, 31),
        end_date=date(2026, 1, 31),
        taxable="no",
        service_id="12",
    )
    assert (result.unit_price, result.quantity, result.end_date) == (
        Decimal(0),
        Decimal("2.5"),
        date(2026, 1, 31),
    )
    assert result.taxable is False and result.service_id == 12


def test_every_bad_field_is_reported_at_once() -> None:
    errors = charge_errors(
        description=" ",
        unit_price="abc",
        quantity="0",
        frequency="weekly",
        effective_from="2026-02-30",
        end_date="someday",
        taxable="maybe",
        service_id="x",
    )
    assert set(errors) == {
        "description",
        "unit_price",
        "quantity",
        "frequency",
        "effective_from",
        "end_date",
        "taxable",
        "service_id",
    }
    assert errors["effective_from"] == "2026-02-30 is not a real date."
    assert errors["frequency"] == "Choose monthly, quarterly or annually."


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("x", True),
        ("x" * 200, True),
        ("  " + "x" * 200 + "  ", True),  # trimmed first
        ("x" * 201, False),
        ("", False),
        ("   ", False),
        (None, False),
    ],
)
def test_description_length(value: str | None, accepted: bool) -> None:
    if accepted:
        assert validate_recurring_charge(**{**GOOD_CHARGE, "description": value}).description == value.strip()  # type: ignore[union-attr]
    else:
        assert "description" in charge_errors(description=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1,234.50", Decimal("1234.50")),
        ("$1234.5", Decimal("1234.5")),
        ("1234.50", Decimal("1234.50")),
        (" 12 ", Decimal("12")),
        ("0", Decimal("0")),
        ("999999.9999", Decimal("999999.9999")),
        ("1.2345", Decimal("1.2345")),
    ],
)
def test_unit_price_accepted(value: str, expected: Decimal) -> None:
    assert validate_recurring_charge(**{**GOOD_CHARGE, "unit_price": value}).unit_price == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Enter an amount"),
        ("NaN", "Enter an amount"),
        ("1e5", "Enter an amount"),
        ("-3", "Can't be negative"),
        ("", "Enter an amount"),
        (None, "Enter an amount"),
        ("1.23456", "at most 4 decimal places"),
        ("Infinity", "Enter an amount"),
        ("1000000", "less than 1,000,000"),
        ("1,000,000.00", "less than 1,000,000"),
    ],
)
def test_unit_price_refused(value: str | None, message: str) -> None:
    assert message in charge_errors(unit_price=value)["unit_price"]


@pytest.mark.parametrize("value", ["2.5", "37", "0.0001", "100000", "100,000", Decimal("1")])
def test_quantity_accepted(value: object) -> None:
    assert validate_recurring_charge(**{**GOOD_CHARGE, "quantity": value}).quantity > 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "more than 0"),
        ("-1", "negative"),
        ("100000.0001", "at most 100,000"),
        ("1.00001", "4 decimal places"),
        ("two", "Enter a number"),
        ("", "Enter a number"),
        ("$3", "Enter a number"),
    ],
)
def test_quantity_refused(value: str, message: str) -> None:
    assert message in charge_errors(quantity=value)["quantity"]


def test_floats_are_a_programming_error_not_a_user_error() -> None:
    with pytest.raises(TypeError):
        validate_recurring_charge(**{**GOOD_CHARGE, "unit_price": 12.5})
    with pytest.raises(TypeError):
        validate_once_off(description="x", unit_price="1", quantity=2.0, item_date="2026-01-01")


@pytest.mark.parametrize("value", ["monthly", "QUARTERLY", " annually "])
def test_frequency_accepted(value: str) -> None:
    assert validate_recurring_charge(**{**GOOD_CHARGE, "frequency": value}).frequency == value.strip().lower()


@pytest.mark.parametrize("value", ["weekly", "", None, "annual", 3])
def test_frequency_refused(value: object) -> None:
    assert "frequency" in charge_errors(frequency=value)


@pytest.mark.parametrize(
    "value",
    ["", None, "2026-13-01", "2026-02-29", "01/12/2026", "20261201", "tomorrow", datetime(2026, 1, 1), 5],
)
def test_effective_from_must_be_a_real_date(value: object) -> None:
    if isinstance(value, datetime | int):
        with pytest.raises(TypeError):
            validate_recurring_charge(**{**GOOD_CHARGE, "effective_from": value})
    else:
        assert "effective_from" in charge_errors(effective_from=value)


def test_leap_day_is_a_real_date() -> None:
    assert validate_recurring_charge(
        **{**GOOD_CHARGE, "effective_from": "2028-02-29"}
    ).effective_from == date(2028, 2, 29)


def test_end_date_not_before_effective_from() -> None:
    errors = charge_errors(effective_from="2026-12-01", end_date="2026-11-30")
    assert list(errors) == ["end_date"]
    assert "can't be before" in errors["end_date"]
    ok = validate_recurring_charge(**{**GOOD_CHARGE, "end_date": "2026-12-01"})
    assert ok.end_date == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("yes", True), ("false", False)]
)
def test_taxable(value: object, expected: bool) -> None:
    assert validate_recurring_charge(**{**GOOD_CHARGE, "taxable": value}).taxable is expected


@pytest.mark.parametrize("value", [None, "maybe", 1])
def test_taxable_refused(value: object) -> None:
    assert "taxable" in charge_errors(taxable=value)


@pytest.mark.parametrize(("value", "expected"), [(None, None), ("", None), ("7", 7), (7, 7)])
def test_service_id(value: object, expected: int | None) -> None:
    assert validate_recurring_charge(**{**GOOD_CHARGE, "service_id": value}).service_id == expected


@pytest.mark.parametrize("value", ["abc", "0", 0, -1, True, "²"])
def test_service_id_refused(value: object) -> None:
    assert "service_id" in charge_errors(service_id=value)


# Once-off items


def test_once_off_good_and_bad() -> None:
    assert validate_once_off(
        description=" Onsite labour ", unit_price="150", quantity="2.5", item_date="2026-11-20", taxable=False
    ) == OnceOffFields("Onsite labour", Decimal("150"), Decimal("2.5"), date(2026, 11, 20), False)
    with pytest.raises(FieldErrors) as caught:
        validate_once_off(description="", unit_price="-1", quantity="0", item_date="2026-11-31", taxable="?")
    assert set(caught.value.errors) == {"description", "unit_price", "quantity", "item_date", "taxable"}


# Services


def test_service_good() -> None:
    assert validate_service(
        name=" Managed firewall ",
        start_date="2026-01-01",
        reference=" ",
        psa_reference="AT-123",
        end_date=None,
    ) == ServiceFields("Managed firewall", None, "AT-123", date(2026, 1, 1), None)


def test_service_bad_fields_all_reported() -> None:
    with pytest.raises(FieldErrors) as caught:
        validate_service(
            name="x" * 201,
            start_date="nope",
            reference="r" * 101,
            psa_reference="p" * 101,
            end_date="2026-13-01",
        )
    assert set(caught.value.errors) == {"name", "reference", "psa_reference", "start_date", "end_date"}


def test_service_limits_and_end_date() -> None:
    ok = validate_service(
        name="n" * 200, start_date="2026-01-01", reference="r" * 100, psa_reference="p" * 100
    )
    assert len(ok.name) == 200
    with pytest.raises(FieldErrors) as caught:
        validate_service(name="n", start_date="2026-01-02", end_date="2026-01-01")
    assert list(caught.value.errors) == ["end_date"]
    with pytest.raises(FieldErrors) as caught:
        validate_service(name="", start_date="")
    assert set(caught.value.errors) == {"name", "start_date"}


def test_validate_end_date() -> None:
    assert validate_end_date("2026-05-31", not_before=date(2026, 5, 1)) == date(2026, 5, 31)
    with pytest.raises(FieldErrors) as caught:
        validate_end_date("2026-04-30", not_before=date(2026, 5, 1))
    assert "2026-05-01" in caught.value.errors["end_date"]
    with pytest.raises(FieldErrors):
        validate_end_date("", not_before=date(2026, 5, 1))
