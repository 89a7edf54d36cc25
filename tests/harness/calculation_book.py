"""Charge and coverage builders for the calculation and ledger-boundary tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.calculation import (
    ChargeInput,
)
from core.coverage import Covered


def charge(
    *,
    id: int = 1,
    price: str | Decimal = "100",
    quantity: str | Decimal = "1",
    frequency: str = "monthly",
    start: date = date(2020, 1, 1),
    end: date | None = None,
    taxable: bool = True,
    service_id: int | None = None,
    description: str = "Managed services",
) -> ChargeInput:
    return ChargeInput(
        id=id,
        description=description,
        unit_price=Decimal(price),
        quantity=Decimal(quantity),
        frequency=frequency,
        effective_from=start,
        end_date=end,
        taxable=taxable,
        service_id=service_id,
    )


D = Decimal


def nbn(**fields: object) -> ChargeInput:
    values: dict[str, object] = {
        "id": 7,
        "description": "NBN 100",
        "unit_price": D("100"),
        "quantity": D("1"),
        "frequency": "monthly",
        "effective_from": date(2026, 1, 1),
        "end_date": None,
        "taxable": True,
        "service_id": None,
    }
    return ChargeInput(**(values | fields))  # type: ignore[arg-type]


def billed(start: date, end: date, *, price: str = "100", version: int = 1, credit: bool = False) -> Covered:
    return Covered(7, start, end, D(price), D(1), version, credit)
