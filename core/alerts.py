"""Who and what the scheduled alerts are about. Queries only; posting is the scheduler's job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import exists, or_
from sqlmodel import Session, col, select

from core.invoice_states import UNSENT
from models.charges import OnceOffItem, RecurringCharge
from models.customers import EndCustomer
from models.invoices import Invoice


def missing_email_with_work(db: Session, *, today: date) -> Sequence[EndCustomer]:
    """Active customers without an e-mail who have something to bill or an invoice waiting:
    the ones whose invoices are about to get stuck."""
    live_charge = exists().where(
        RecurringCharge.customer_id == EndCustomer.id,
        or_(col(RecurringCharge.end_date).is_(None), col(RecurringCharge.end_date) >= today),
    )
    open_item = exists().where(
        OnceOffItem.customer_id == EndCustomer.id, col(OnceOffItem.invoice_id).is_(None)
    )
    unsent = exists().where(Invoice.customer_id == EndCustomer.id, col(Invoice.status).in_(UNSENT))
    query = (
        select(EndCustomer)
        .where(
            col(EndCustomer.archived_at).is_(None),
            or_(col(EndCustomer.email).is_(None), EndCustomer.email == ""),
            or_(live_charge, open_item, unsent),
        )
        .order_by(EndCustomer.name_key)
    )
    return db.exec(query).all()
