"""Assembles the customer modal from each feature's section builders."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select

from core import billing_settings, charges
from handlers import charge_views, customer_views, invoice_views
from handlers.base import Call
from handlers.blocks import Block
from models.customers import EndCustomer
from models.invoices import Invoice


def sections(call: Call, customer: EndCustomer) -> list[list[Block]]:
    assert customer.id is not None
    db = call.db
    services = charges.list_services(db=db, customer_id=customer.id)
    recurring = charges.list_recurring_charges(db=db, customer_id=customer.id)
    items = charges.list_once_offs(db=db, customer_id=customer.id)
    invoice_ids = {i.invoice_id for i in items if i.invoice_id}
    numbers: dict[int, str] = {}
    if invoice_ids:
        rows = db.exec(select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(invoice_ids))).all()
        numbers = {row[0]: row[1] for row in rows}
    monthly = charges.monthly_total(db=db, customer_id=customer.id, as_of=call.today)
    names = {s.id: s.name for s in services if s.id is not None}
    count = int(db.exec(select(func.count()).where(Invoice.customer_id == customer.id)).one())
    recent = db.exec(
        select(Invoice)
        .where(Invoice.customer_id == customer.id)
        .order_by(col(Invoice.id).desc())
        .limit(invoice_views.SECTION_ROWS)
    ).all()
    currency = billing_settings.currency(call.db)
    return [
        charge_views.services_section(services, customer_id=customer.id),
        charge_views.charges_section(
            recurring, customer_id=customer.id, monthly=monthly, services=names, currency=currency
        ),
        charge_views.once_offs_section(items, customer_id=customer.id, numbers=numbers, currency=currency),
        invoice_views.invoices_section(recent, today=call.today, total_count=count),
    ]


def render(call: Call, customer: EndCustomer) -> dict[str, Any]:
    return customer_views.customer_modal(
        customer, default_days=billing_settings.default_terms(call.db), sections=sections(call, customer)
    )
