"""The invoice statuses, in one place for the writer, the life cycle and the views."""

from __future__ import annotations

from typing import Final

ENTITY: Final = "invoice"
DRAFT: Final = "draft"
APPROVED: Final = "approved"
SENT: Final = "sent"
PAID: Final = "paid"
VOID: Final = "void"
STATUSES: Final = (DRAFT, APPROVED, SENT, PAID, VOID)
OVERDUE: Final = "overdue"  # derived, never stored
OWING: Final = (APPROVED, SENT)
FILTERS: Final = (*STATUSES, OVERDUE)

# Document types: a credit note lives with the invoices (one numbering lock, one life cycle, one
# ledger), numbered in its own series; its amounts are signed as owed, so its total is negative.
INVOICE: Final = "invoice"
CREDIT_NOTE: Final = "credit_note"
DOC_TYPES: Final = (INVOICE, CREDIT_NOTE)
