"""The invoice view, with what every feature adds to it (its changes, delivery state, Xero line).

Apart from `handlers.invoices` so the month close and Xero listeners can redraw an invoice without
importing the invoice listeners, which register theirs.
"""

from __future__ import annotations

from typing import Any

from core import customers
from core import invoices as invoice_service
from core.month_close import State, changes_for, state_of
from handlers import invoice_views
from handlers.base import Call
from handlers.xero_blocks import invoice_blocks
from models.invoices import Invoice


def invoice_modal(call: Call, invoice: Invoice) -> dict[str, Any]:
    assert invoice.id is not None
    customer = customers.get(call.db, invoice.customer_id)
    lines = invoice_service.lines_of(db=call.db, invoice_id=invoice.id)
    changes = changes_for(call.db, invoice).summary()
    uncertain = state_of(invoice, customer, now=call.deps.clock.now()) == State.UNCERTAIN
    return invoice_views.invoice_modal(
        invoice,
        lines,
        today=call.today,
        customer_email=customer.email,
        xero=invoice_blocks(call.db, invoice),
        changes=changes,
        uncertain=uncertain,
    )
