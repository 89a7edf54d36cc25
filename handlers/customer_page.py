"""Assembles the customer modal from each feature's section builders."""

from __future__ import annotations

from typing import Any

from core import billing_settings, charges, invoices
from handlers import charge_views, customer_views, invoice_views
from handlers.base import Call
from handlers.blocks import Block
from models.customers import EndCustomer


def sections(call: Call, customer: EndCustomer) -> list[list[Block]]:
    assert customer.id is not None
    db = call.db
    services = charges.list_services(db=db, customer_id=customer.id)
    recurring = charges.list_recurring_charges(db=db, customer_id=customer.id)
    items = charges.list_once_offs(db=db, customer_id=customer.id)
    numbers = invoices.numbers_of(db=db, invoice_ids={i.invoice_id for i in items if i.invoice_id})
    monthly = charges.monthly_total(db=db, customer_id=customer.id, as_of=call.today)
    names = {s.id: s.name for s in services if s.id is not None}
    count = invoices.count_invoices(db=db, customer_id=customer.id)
    recent = invoices.latest_of_customer(db=db, customer_id=customer.id, limit=invoice_views.SECTION_ROWS)
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
