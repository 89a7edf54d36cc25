"""Figures for the App Home: counted in the database, not by loading every invoice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.invoice_states import APPROVED, DRAFT, INVOICE, OWING
from models.invoices import Invoice


@dataclass(frozen=True)
class InvoiceFigures:
    drafts: int
    to_send: int  # approved, not yet e-mailed
    outstanding: int  # approved or sent, unpaid
    outstanding_total: Decimal
    overdue: int
    overdue_total: Decimal


def invoice_figures(db: Session, *, today: date) -> InvoiceFigures:
    def count_and_sum(*conditions: object) -> tuple[int, Decimal]:
        row = db.exec(
            select(func.count(), func.coalesce(func.sum(Invoice.total), 0)).where(*conditions)
        ).one()
        return int(row[0]), Decimal(str(row[1])).quantize(Decimal("0.01"))

    drafts, _ = count_and_sum(Invoice.status == DRAFT)
    to_send, _ = count_and_sum(Invoice.status == APPROVED, col(Invoice.sent_at).is_(None))
    owed = (col(Invoice.status).in_(OWING), Invoice.doc_type == INVOICE)  # credit notes are not owed
    outstanding, outstanding_total = count_and_sum(*owed)
    overdue, overdue_total = count_and_sum(*owed, Invoice.due_date < today)
    return InvoiceFigures(drafts, to_send, outstanding, outstanding_total, overdue, overdue_total)
