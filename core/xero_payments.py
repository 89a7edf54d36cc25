"""Payments back from Xero: invoices Xero changed since the last read mark ours paid or part-paid."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core import invoices as invoice_service
from core.clock import Clock
from core.db import session_scope
from core.invoice_states import OWING, VOID
from core.xero_documents import INVOICE
from core.xero_settings import load_settings
from integrations.xero import XeroClient, parse_msdate
from models.invoices import Invoice
from models.xero import XeroDocument


@dataclass
class PaymentsReport:
    read: int = 0
    paid: list[str] = field(default_factory=list)
    part_paid: list[str] = field(default_factory=list)
    voided_in_xero: list[str] = field(default_factory=list)


def pull_payments(
    engine: Engine, client: XeroClient, *, clock: Clock, actor: str = "system:xero"
) -> PaymentsReport:
    """Read invoices Xero changed since the last read; ours become paid (with the date) or part-paid.

    Safe to run twice: marking a paid invoice paid is a no-op, and the read time only moves
    forward once everything read was stored.
    """
    with session_scope(engine) as db:
        since = load_settings(db).payments_read_at
    started = clock.now()
    report = PaymentsReport()
    overlap = since - timedelta(minutes=1) if since else None  # clocks differ; re-reading is harmless
    for answer in client.iter_invoices_changed(overlap):
        report.read += 1
        with session_scope(engine) as db:
            row = (
                db.execute(
                    select(XeroDocument).where(
                        XeroDocument.kind == INVOICE, XeroDocument.xero_id == answer.get("InvoiceID")
                    )
                )
                .scalars()
                .first()
            )
            if row is None:
                continue
            due = Decimal(str(answer.get("AmountDue", "0")))
            paid = Decimal(str(answer.get("AmountPaid", "0")))
            status = answer.get("Status")
            row.amount_due, row.amount_paid, row.xero_status = due, paid, status
            row.updated_at = clock.now()
            invoice = db.get(Invoice, row.local_id)
            if status == "PAID" and invoice is not None and invoice.status in OWING:
                when = parse_msdate(answer.get("FullyPaidOnDate")) or clock.now()
                row.paid_on = when
                invoice_service.mark_paid(db=db, ref=invoice.id or 0, actor=actor, clock=clock, paid_at=when)
                report.paid.append(invoice.number)
            elif status == "AUTHORISED" and paid > 0 and invoice is not None:
                report.part_paid.append(invoice.number)
            elif status == "VOIDED" and invoice is not None and invoice.status != VOID:
                report.voided_in_xero.append(invoice.number)
            db.add(row)
    with session_scope(engine) as db:
        load_settings(db).payments_read_at = started
    return report
