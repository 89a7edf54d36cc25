"""Invoices as Xero's sales-invoice CSV import: the full 29-column template, in Xero's order.

For organisations that import by hand instead of connecting. Each row carries its line's
`TaxAmount` (our invoice's GST split over its lines, as in the API push), so the import reproduces
our totals to the cent; amounts are tax exclusive ("Tax exclusive" when importing). The account
code comes from the Xero settings: without one the export is refused rather than written with a
blank column Xero would reject line by line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TextIO

from sqlmodel import Session

from core import invoices
from core.calculation import Period
from core.csv_cells import SafeWriter
from core.errors import NotAllowed
from core.money import decimal_places
from core.xero_documents import CREDIT_NOTE, invoice_document
from core.xero_settings import load_settings
from models.customers import EndCustomer
from models.invoices import Invoice

COLUMNS: Final = (
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
)
DATE_FORMAT: Final = "%d/%m/%Y"  # the organisation's format; Australian organisations read DD/MM/YYYY
MAX_INVOICES: Final = 500  # Xero's limit per import file
# The CSV names tax rates as the organisation shows them; the API's codes for the usual ones.
TAX_RATE_NAMES: Final = {
    "OUTPUT": "GST on Income",
    "EXEMPTOUTPUT": "GST Free Income",
    "OUTPUT2": "GST on Income",
    "EXEMPTOUTPUT2": "GST Free Income",
}


def export(
    db: Session,
    out: TextIO,
    *,
    period: Period | None = None,
    include_drafts: bool = False,
    account_code: str | None = None,
) -> int:
    """Write the CSV; returns the number of line rows. `account_code` overrides the setting."""
    settings = load_settings(db)
    code = account_code or settings.account_code
    if not code:
        raise NotAllowed(
            "No Xero account code is set: choose one in /rebill settings → Xero "
            "(or `rebill-bot xero settings --account-code 200`), or pass --account-code."
        )
    taxed = TAX_RATE_NAMES.get(settings.tax_type_taxable or "OUTPUT", settings.tax_type_taxable or "")
    free = TAX_RATE_NAMES.get(settings.tax_type_free or "EXEMPTOUTPUT", settings.tax_type_free or "")
    chosen = [
        invoice
        for invoice in invoices.list_invoices(db=db, period=period)
        if invoice.status != invoices.VOID and (include_drafts or invoice.status != invoices.DRAFT)
    ]
    if len(chosen) > MAX_INVOICES:
        raise NotAllowed(
            f"{len(chosen)} invoices is more than Xero imports from one file ({MAX_INVOICES}): export a month at a time (--period)."
        )
    writer = SafeWriter(out)  # spreadsheet-safe cells (core.csv_cells)
    writer.writerow(COLUMNS)
    rows = 0
    for invoice in chosen:
        for row in _rows(db, invoice, code, taxed, free):
            writer.writerow(row)
            rows += 1
    return rows


def _rows(db: Session, invoice: Invoice, code: str, taxed: str, free: str) -> Iterable[list[str]]:
    assert invoice.id is not None
    doc = invoice_document(invoice, invoices.lines_of(db=db, invoice_id=invoice.id))
    customer = db.get(EndCustomer, invoice.customer_id)
    address = [
        customer.address_line1 if customer else None,
        customer.address_line2 if customer else None,
        None,
        None,
        customer.city if customer else None,
        customer.state if customer else None,
        customer.postcode if customer else None,
        customer.country if customer else None,
    ]
    # A credit note goes in the same file with negative quantities (and GST): Xero's import reads a
    # document whose total is negative as a credit note. The Document holds it positive, as the API wants.
    sign = -1 if doc.kind == CREDIT_NOTE else 1
    for line in doc.lines:
        unit = line.unit_amount
        yield [
            invoice.customer_name,
            invoice.customer_email or "",
            *[value or "" for value in address],
            invoice.number,
            invoice.period,
            invoice.issue_date.strftime(DATE_FORMAT),
            invoice.due_date.strftime(DATE_FORMAT),
            f"{invoice.total:.2f}",
            "",
            line.description,
            format((sign * line.quantity).normalize(), "f"),
            f"{unit:.{max(2, decimal_places(unit))}f}",
            "",
            code,
            taxed if line.taxable else free,
            f"{sign * line.tax:.2f}",
            "",
            "",
            "",
            "",
            invoice.currency,
            "",
        ]
