"""Block Kit for channel alerts posted by the scheduler. Pure builders."""

from __future__ import annotations

from collections.abc import Sequence

from handlers import blocks
from handlers.blocks import Block, esc
from handlers.customer_views import Ids as CustomerIds
from models.customers import EndCustomer

DIGEST_ROWS = 40  # leaves room in the 50-block message for the header and the overflow line


def missing_email_digest(customers: Sequence[EndCustomer]) -> tuple[str, list[Block]]:
    count = len(customers)
    text = f"{count} end customer{'s' if count != 1 else ''} can't be sent invoices: no e-mail address"
    out: list[Block] = [
        blocks.section(f":warning: *{text}.* Add an address so their next invoices can go out."),
    ]
    for customer in customers[:DIGEST_ROWS]:
        out.append(
            blocks.section(
                esc(customer.company_name),
                accessory=blocks.button("Add e-mail", CustomerIds.ADD_EMAIL, value=str(customer.id)),
            )
        )
    if count > DIGEST_ROWS:
        out.append(blocks.context(f"…and {count - DIGEST_ROWS} more: `/rebill customers` shows them all."))
    return text, out
