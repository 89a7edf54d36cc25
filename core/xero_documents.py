"""What we send Xero for one of our documents (invoice or credit note), independent of its table.

A `Document` is the common shape: type, number, dates, currency and lines each carrying its own
ex-GST amount and GST. `invoice_document` builds one from an invoice or a credit note (a credit
note is stored signed as owed, negative; Xero wants its amounts positive, as an ACCRECCREDIT
allocated to the invoice it credits).

Why per-line tax is sent: Xero computes and rounds GST per line. Documents rounded per line agree
with it; older ones rounded once per invoice can differ by a cent. Each line's GST as our books
hold it comes from one place, `core.invoices.line_tax_amounts` (stored per line since the ledger,
shared out by largest remainder for older documents), and is sent as the line's `TaxAmount`, so
Xero's total equals ours to the cent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from core import invoices
from core.invoice_states import CREDIT_NOTE, INVOICE
from core.money import quantize_money
from models.invoices import Invoice, InvoiceLine

XERO_TYPE = {INVOICE: "ACCREC", CREDIT_NOTE: "ACCRECCREDIT"}
COLLECTION = {INVOICE: "Invoices", CREDIT_NOTE: "CreditNotes"}


@dataclass(frozen=True)
class DocLine:
    description: str
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal  # ex-GST, 2 dp
    tax: Decimal  # this line's GST, 2 dp
    taxable: bool


@dataclass(frozen=True)
class Document:
    kind: str
    local_id: int
    number: str
    customer_id: int
    issue_date: date
    due_date: date | None
    currency: str
    reference: str
    lines: tuple[DocLine, ...]
    total: Decimal
    allocate_to: str | None = None  # credit note: the number of the invoice it credits

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sum((line.tax for line in self.lines), Decimal("0.00"))

    @property
    def version(self) -> str:
        """Changes whenever what we would send changes (part of the Idempotency-Key)."""
        text = repr(
            (
                self.kind,
                self.number,
                self.issue_date,
                self.due_date,
                self.currency,
                self.lines,
                self.allocate_to,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Mapping:
    """The organisation's codes, from /rebill settings (Xero section)."""

    account_code: str
    tax_type_taxable: str
    tax_type_free: str
    status: str = "AUTHORISED"


def invoice_document(
    invoice: Invoice, lines: list[InvoiceLine], *, credits_number: str | None = None
) -> Document:
    """Our invoice or credit note as Xero's document; `credits_number`: the invoice a credit note
    credits (it is allocated to it)."""
    assert invoice.id is not None
    taxes = invoices.line_tax_amounts(invoice, lines)
    credit = invoice.doc_type == CREDIT_NOTE
    sign = -1 if credit else 1
    return Document(
        kind=CREDIT_NOTE if credit else INVOICE,
        local_id=invoice.id,
        number=invoice.number,
        customer_id=invoice.customer_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        reference=invoice.period,
        lines=tuple(
            _line(
                line.description,
                sign * line.quantity,
                line.unit_price,
                sign * line.amount,
                sign * tax,
                line.taxable,
            )
            for line, tax in zip(lines, taxes, strict=True)
        ),
        total=sign * invoice.total,
        allocate_to=credits_number if credit else None,
    )


def _line(
    description: str, quantity: Decimal, unit: Decimal, amount: Decimal, tax: Decimal, taxable: bool
) -> DocLine:
    """Xero recomputes a line as Quantity x UnitAmount; where ours is not exactly that (a pro-rata
    month), the line goes as 1 x its amount so the line total is ours."""
    if quantize_money(quantity * unit) != amount:
        quantity, unit = Decimal(1), amount
    return DocLine(description[:4000], quantity, unit, amount, tax, taxable)


def to_xero(doc: Document, *, contact_id: str, mapping: Mapping) -> dict[str, Any]:
    """The Invoice or CreditNote object for Xero, field names as in Xero's OpenAPI document."""
    payload: dict[str, Any] = {
        "Type": XERO_TYPE[doc.kind],
        "Contact": {"ContactID": contact_id},
        "Date": doc.issue_date.isoformat(),
        "LineAmountTypes": "Exclusive",
        "Reference": doc.reference,
        "CurrencyCode": doc.currency,
        "Status": mapping.status if doc.kind == INVOICE else "AUTHORISED",
        "LineItems": [
            {
                "Description": line.description,
                "Quantity": line.quantity.normalize(),
                "UnitAmount": line.unit_amount,
                "LineAmount": line.amount,
                "AccountCode": mapping.account_code,
                "TaxType": mapping.tax_type_taxable if line.taxable else mapping.tax_type_free,
                "TaxAmount": line.tax,
            }
            for line in doc.lines
        ],
    }
    if doc.kind == INVOICE:
        payload["InvoiceNumber"] = doc.number
        if doc.due_date is not None:
            payload["DueDate"] = doc.due_date.isoformat()
    else:
        payload["CreditNoteNumber"] = doc.number
    return payload
