"""The four-eyes rule, in one place: with it on, whoever ran a month's close can't approve that
month's invoices, by any path (the report's Approve, the invoice view's Approve, or sending a
draft, which approves it first). The scheduler's runs (`system:*`) leave everyone free to approve.
"""

from __future__ import annotations

from sqlmodel import Session

from core import billing_settings
from core.errors import NotAllowed
from models.invoices import Invoice
from models.month_close import MonthClose


def check(db: Session, invoice: Invoice, *, actor: str) -> None:
    """Raise NotAllowed when `actor` may not approve `invoice`."""
    if not billing_settings.load(db).four_eyes:
        return
    closed = db.get(MonthClose, invoice.period)
    if closed is not None and closed.run_by == actor and not actor.startswith("system:"):
        raise NotAllowed(
            f"Four-eyes rule: you ran the {invoice.period} bill run, so someone else must approve "
            f"{invoice.number}."
        )
