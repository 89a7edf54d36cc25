"""The CSV in Xero's sales-invoice import layout: every column in Xero's order, totals to the cent."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine

from core import invoices, xero_csv
from core.db import session_scope
from core.errors import NotAllowed
from tests.harness.xero_setup import billed_month, map_codes

XERO_TEMPLATE = (
    "*ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,POAddressLine4,POCity,PORegion,"
    "POPostalCode,POCountry,*InvoiceNumber,Reference,*InvoiceDate,*DueDate,Total,InventoryItemCode,*Description,"
    "*Quantity,*UnitAmount,Discount,*AccountCode,*TaxType,TaxAmount,TrackingName1,TrackingOption1,TrackingName2,"
    "TrackingOption2,Currency,BrandingTheme"
)


def test_the_template_columns_and_totals_to_the_cent(engine: Engine) -> None:
    numbers = billed_month(engine, ["Alpha Dental", "Bravo Legal", "Charlie Cafe", "Delta Freight"])
    map_codes(engine)
    out = io.StringIO()
    with session_scope(engine) as db:
        count = xero_csv.export(db, out)
        ours = {i.number: i for i in invoices.list_invoices(db=db)}
    lines = out.getvalue().splitlines()
    assert lines[0] == XERO_TEMPLATE and len(lines[0].split(",")) == 29
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == count and {r["*InvoiceNumber"] for r in rows} == set(numbers.values())
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for row in rows:
        qty, unit = Decimal(row["*Quantity"]), Decimal(row["*UnitAmount"])
        sums[row["*InvoiceNumber"]][0] += (qty * unit).quantize(Decimal("0.01"))
        sums[row["*InvoiceNumber"]][1] += Decimal(row["TaxAmount"])
        assert row["*AccountCode"] == "200" and row["*TaxType"] in ("GST on Income", "GST Free Income")
    for number, (subtotal, tax) in sums.items():
        assert (subtotal, tax) == (ours[number].subtotal, ours[number].tax)


def test_no_account_code_no_export(engine: Engine) -> None:
    billed_month(engine, ["Alpha Dental"])
    with session_scope(engine) as db, pytest.raises(NotAllowed, match="No Xero account code is set"):
        xero_csv.export(db, io.StringIO())
