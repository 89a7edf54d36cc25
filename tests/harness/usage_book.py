"""A small book for the cost, margin and usage tests: customers, a service with a phone number."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.engine import Engine

from core import charges
from core.charge_validation import validate_recurring_charge, validate_service
from core.db import session_scope
from models.customers import EndCustomer
from models.system import BillingSettings
from tests.factories import configure
from tests.harness.billbook import ACTOR, _customer
from tests.harness.clock import FixedClock

HEADER = "usage_id,customer,customer_id,psa_reference,service_reference,date,description,quantity,unit_cost,unit_price,taxable\n"
COST = "13.5791"  # priced at 25%: 16.973875 → 16.97; "13.58" must never reach the customer


@dataclass(frozen=True)
class UsageBook:
    alpha: int
    bravo: int
    voice: int  # Alpha's voice service, reference 0298765432, margin override 50%


def build(engine: Engine, *, margin: str | None = "25", floor: str | None = None) -> UsageBook:
    configure(engine, terms=14)
    with session_scope(engine) as db:
        settings = db.get(BillingSettings, 1)
        assert settings is not None
        settings.default_margin_percent = None if margin is None else Decimal(margin)
        settings.margin_floor_percent = None if floor is None else Decimal(floor)
        alpha = _customer(db, "Alpha Dental", email="ap@alpha.example")
        row = db.get(EndCustomer, alpha)
        assert row is not None
        row.psa_kind, row.psa_ref = "autotask", "AT-77"
        bravo = _customer(db, "Bravo Legal", email="ap@bravo.example")
        voice = charges.add_service(
            db=db,
            actor=ACTOR,
            customer_id=alpha,
            data=validate_service(
                name="Voice", start_date="2026-01-01", reference="0298765432", margin_percent="50%"
            ),
            clock=FixedClock(),
        )
        assert voice.id is not None and voice.margin_percent == Decimal("50")
        charges.add_recurring_charge(
            db=db,
            actor=ACTOR,
            customer_id=alpha,
            data=validate_recurring_charge(
                description="Managed firewall",
                unit_price="" if margin is not None else "16.97",
                unit_cost=COST,
                quantity="1",
                frequency="monthly",
                effective_from="2026-01-01",
            ),
            clock=FixedClock(),
        )
        return UsageBook(alpha=alpha, bravo=bravo, voice=voice.id)
