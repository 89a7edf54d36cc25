"""What changed since the previous invoice, on hand-made month pairs: one per reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from core.invoice_changes import compare
from models.invoices import Invoice, InvoiceLine

D = Decimal


def invoice(period: str, total: str, number: str = "INV-1") -> Invoice:
    return Invoice(
        id=1,
        customer_id=7,
        period=period,
        number=number,
        series="INV",
        sequence=1,
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        subtotal=D(total),
        tax=D(0),
        total=D(total),
        tax_rate=D("0.1"),
        tax_rounding="x",
        payment_terms_days=14,
        customer_name="Harbour Dental",
        created_by="t",
    )


def line(
    description: str,
    qty: str,
    price: str,
    amount: str | None = None,
    *,
    kind: str = "recurring",
    source: int | None = 1,
    start: date | None = None,
    end: date | None = None,
) -> InvoiceLine:
    return InvoiceLine(
        invoice_id=1,
        position=1,
        kind=kind,
        source_id=source,
        description=description,
        quantity=D(qty),
        unit_price=D(price),
        amount=D(amount) if amount is not None else D(qty) * D(price),
        period_start=start,
        period_end=end,
    )


@dataclass
class LedgerLine:
    """A line as the billing ledger (issue 12) stores it: with `kind` and `reason` of its own."""

    kind: str
    source_id: int | None
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    period_start: date | None = None
    period_end: date | None = None
    reason: str | None = None


SEATS_NOV = line("M365 seats", "17", "10.00")


@pytest.mark.parametrize(
    ("before", "after", "change", "reason"),
    [
        ([SEATS_NOV], [line("M365 seats", "19", "10.00")], "changed", "quantity 17 → 19"),
        ([SEATS_NOV], [line("M365 seats", "17", "11.50")], "changed", "price $10.00 → $11.50"),
        (
            [],
            [
                line(
                    "NBN 100",
                    "1",
                    "99.00",
                    "63.87",
                    source=2,
                    start=date(2026, 12, 12),
                    end=date(2026, 12, 31),
                )
            ],
            "added",
            "pro-rata from 12 Dec, 20 days",
        ),
        ([], [line("Router", "1", "199.00", kind="once_off", source=9)], "added", "once-off item"),
        ([line("Router", "1", "199.00", kind="once_off", source=9)], [], "removed", "once-off last time"),
        ([SEATS_NOV], [], "removed", "no longer billed"),
        ([], [line("NBN 100 (Nov)", "1", "60.00", kind="catch_up", source=2)], "added", "catch-up"),
        ([], [line("Outage credit", "1", "-20.00", kind="credit", source=None)], "added", "credit"),
        (
            [],
            [LedgerLine("catch_up", 2, "NBN 100", D(1), D("99"), D("63.87"), reason="catch-up 19 days")],
            "added",
            "catch-up 19 days",
        ),
        (
            [
                line(
                    "NBN 100",
                    "1",
                    "99.00",
                    "63.87",
                    source=2,
                    start=date(2026, 11, 12),
                    end=date(2026, 11, 30),
                )
            ],
            [line("NBN 100", "1", "99.00", source=2, start=date(2026, 12, 1), end=date(2026, 12, 31))],
            "changed",
            "full month after a pro-rata start",
        ),
    ],
)
def test_each_reason(before: list, after: list, change: str, reason: str) -> None:  # type: ignore[type-arg]
    got = compare(invoice("2026-12", "300.00", "INV-2"), after, invoice("2026-11", "250.00"), before)
    [only] = got.lines
    assert (only.change, only.reason) == (change, reason)
    assert got.delta == D("50.00") and got.as_dict()["lines"][0]["reason"] == reason


def test_unchanged_first_and_summary() -> None:
    same = compare(
        invoice("2026-12", "170.00", "INV-2"), [SEATS_NOV], invoice("2026-11", "170.00"), [SEATS_NOV]
    )
    assert not same.changed and same.summary() == "Same as 2026-11 (INV-1)."
    first = compare(invoice("2026-12", "170.00"), [SEATS_NOV], None, [])
    assert (
        first.summary() == "First invoice for this customer." and first.as_dict()["previous_number"] is None
    )
    nbn = line("NBN 100", "1", "99.00", "63.87", source=2, start=date(2026, 12, 12), end=date(2026, 12, 31))
    grown = compare(
        invoice("2026-12", "359.90", "INV-2"), [SEATS_NOV, nbn], invoice("2026-11", "170.00"), [SEATS_NOV]
    )
    assert grown.summary() == "Since 2026-11: +$189.90 — NBN 100 added (pro-rata from 12 Dec, 20 days)"
