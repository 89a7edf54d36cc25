"""Which margin prices a wholesale cost, and the price that follows (cost plus margin).

One rule, used by charges, once-off items and usage import alike: a service's own
`margin_percent` wins; otherwise the default margin in the billing settings; with neither, a price
must be given. The price is derived when the row is saved (or imported) and stored, so changing a
margin later never silently reprices what was already entered: edit and save it to reprice. The
arithmetic (exact, rounded once half-up to the cent) is `core.money.price_from_cost`.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TypeVar

from sqlmodel import Session

from core import billing_settings
from core.charge_validation import OnceOffFields, RecurringChargeFields
from core.errors import FieldErrors
from core.money import price_from_cost
from models.charges import Service

NO_MARGIN = (
    "Enter a unit price: there is no margin to price the cost with "
    "(set a default margin in /rebill settings, or a margin on the service)."
)

FieldsT = TypeVar("FieldsT", RecurringChargeFields, OnceOffFields)


def margin_for(db: Session, *, service_id: int | None) -> Decimal | None:
    """The margin (% on cost) that prices a cost on `service_id` (or on no service)."""
    if service_id is not None:
        service = db.get(Service, service_id)
        if service is not None and service.margin_percent is not None:
            return service.margin_percent
    return billing_settings.load(db).default_margin_percent


def priced(db: Session, data: FieldsT, *, service_id: int | None = None) -> FieldsT:
    """`data` with its unit price filled in from cost plus margin when it was left blank."""
    if data.unit_price is not None:
        return data
    assert data.unit_cost is not None  # validation refuses a row with neither
    margin = margin_for(db, service_id=service_id)
    if margin is None:
        raise FieldErrors({"unit_price": NO_MARGIN})
    return replace(data, unit_price=price_from_cost(data.unit_cost, margin))
