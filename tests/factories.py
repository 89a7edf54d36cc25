"""Real rows for tests, made through the same core functions the product uses."""

from __future__ import annotations

from itertools import count
from typing import Any

from sqlalchemy.engine import Engine

from bot.db import session_scope
from core import billing_settings, customers
from core.customer_validation import validate_customer
from models.customers import EndCustomer
from tests.harness.clock import FixedClock

_n = count(1)


def configure(engine: Engine, *, terms: int = 30, prefix: str = "INV-", start: int = 1) -> None:
    with session_scope(engine) as db:
        basics = billing_settings.validate_basics(
            {
                "business_name": "Acme MSP Pty Ltd",
                "default_payment_terms_days": str(terms),
                "invoice_prefix": prefix,
                "invoice_start_number": str(start),
            }
        )
        billing_settings.save_basics(db, basics, actor="U0ADMIN", clock=FixedClock())


def customer(engine: Engine, name: str | None = None, **fields: Any) -> EndCustomer:
    values = {"company_name": name or f"Customer {next(_n):04d}", "email": "accounts@example.com", **fields}
    with session_scope(engine) as db:
        return customers.create(db, validate_customer(values), actor="U0ADMIN", clock=FixedClock())
