"""The invoice statuses, in one place for the writer, the life cycle, the queries and the views."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class InvoiceStatus(StrEnum):
    """What is stored in `invoice.status`; a StrEnum so it compares and binds as the stored text."""

    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    PAID = "paid"
    VOID = "void"

    @property
    def owing(self) -> bool:
        """Issued and not yet paid: counted as outstanding, chased when overdue, payable in Xero."""
        return self in OWING

    @property
    def unsent(self) -> bool:
        """Not yet e-mailed to the customer: what the "invoices waiting" alert is about."""
        return self in UNSENT

    @property
    def creditable(self) -> bool:
        """Sent to the customer: corrected by a credit note, never voided (an unsent one is voided)."""
        return self in CREDITABLE


ENTITY: Final = "invoice"
DRAFT: Final = InvoiceStatus.DRAFT
APPROVED: Final = InvoiceStatus.APPROVED
SENT: Final = InvoiceStatus.SENT
PAID: Final = InvoiceStatus.PAID
VOID: Final = InvoiceStatus.VOID
STATUSES: Final = tuple(InvoiceStatus)
OWING: Final = (APPROVED, SENT)
UNSENT: Final = (DRAFT, APPROVED)
CREDITABLE: Final = (SENT, PAID)
OVERDUE: Final = "overdue"  # derived from the due date, never stored
FILTERS: Final = (*STATUSES, OVERDUE)

# Document types: a credit note lives with the invoices (one numbering lock, one life cycle, one
# ledger), numbered in its own series; its amounts are signed as owed, so its total is negative.
INVOICE: Final = "invoice"
CREDIT_NOTE: Final = "credit_note"
DOC_TYPES: Final = (INVOICE, CREDIT_NOTE)
