"""What we send Xero for one of our documents (invoice or credit note), independent of its table.

A `Document` is the common shape: type, number, dates, currency and lines each carrying its own
ex-GST amount and GST. Invoices become one today (`invoice_document`); credit notes (issue 12) plug
in by building the same shape with `kind="credit_note"` and the invoice they credit.

Why per-line tax is sent: Xero computes and rounds GST per line, but our invoice rounds GST once on
its total (`tax_rounding`), so the two can differ by a cent. Xero lets `TaxAmount` be overridden
per line; we split our invoice's GST over its taxable lines by largest remainder (each line gets
its exact GST rounded down or up, never further from it than a cent), so the lines add up to our
GST exactly and Xero's total equals ours to the cent. When lines store their own GST (issue 12),
`invoice_document` uses that instead and this split is not needed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from core.money import CENT, quantize_money
from models.invoices import Invoice, InvoiceLine

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
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


def split_tax(
    amounts: list[Decimal], taxable: list[bool], rate: Decimal, total_tax: Decimal
) -> list[Decimal]:
    """Each line's share of `total_tax`: exact GST floored to cents, the leftover cents to the
    lines with the largest remainders (ties to the earlier line). Sums to `total_tax` exactly."""
    exact = [
        amount * rate if is_taxed else Decimal(0) for amount, is_taxed in zip(amounts, taxable, strict=True)
    ]
    floors = [value.quantize(CENT, rounding=ROUND_FLOOR) for value in exact]
    left = int((total_tax - sum(floors, Decimal(0))) / CENT)
    order = sorted(
        (i for i, is_taxed in enumerate(taxable) if is_taxed), key=lambda i: (-(exact[i] - floors[i]), i)
    )
    shares = list(floors)
    if left < 0 or left > len(order):
        # Our total was not rounded from these lines (should not happen): fall back to per-line rounding.
        return [quantize_money(value) for value in exact]
    for i in order[:left]:
        shares[i] += CENT
    return shares


def invoice_document(invoice: Invoice, lines: list[InvoiceLine]) -> Document:
    assert invoice.id is not None
    amounts = [line.amount for line in lines]
    taxes = split_tax(amounts, [line.taxable for line in lines], invoice.tax_rate, invoice.tax)
    return Document(
        kind=INVOICE,
        local_id=invoice.id,
        number=invoice.number,
        customer_id=invoice.customer_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        reference=invoice.period,
        lines=tuple(
            _line(line.description, line.quantity, line.unit_price, line.amount, tax, line.taxable)
            for line, tax in zip(lines, taxes, strict=True)
        ),
        total=invoice.total,
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
