"""What changed since the customer's previous invoice, and why, line by line.

Lines are matched by what they bill: (kind, source id) when the line came from a charge or item,
else (kind, description). A line only in the new invoice is *added*, only in the old one
*removed*, in both with a different amount *changed*. The reason is the most specific the data
knows: a stored `reason` on the line (the billing ledger adds one), else its `kind` (catch-up,
credit, once-off), else what the numbers show (quantity 17 → 19, price, a pro-rata start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.calculation import Period
from core.money import ZERO, format_money
from models.invoices import Invoice, InvoiceLine

KIND_REASONS = {"once_off": "once-off item", "catch_up": "catch-up", "credit": "credit"}


@dataclass(frozen=True)
class LineChange:
    change: str  # added | removed | changed
    description: str
    amount: Decimal  # this invoice's line (ZERO when removed)
    delta: Decimal
    reason: str

    def sentence(self) -> str:
        return f"{self.description} {self.change}" + (f" ({self.reason})" if self.reason else "")

    def as_dict(self) -> dict[str, str]:
        return {
            "change": self.change,
            "description": self.description,
            "amount": f"{self.amount:.2f}",
            "delta": f"{self.delta:.2f}",
            "reason": self.reason,
        }


@dataclass(frozen=True)
class InvoiceChanges:
    previous_number: str | None
    previous_period: str | None
    delta: Decimal  # total, GST included
    lines: tuple[LineChange, ...]
    currency: str  # the invoice's, for the amounts in `summary`

    @property
    def changed(self) -> bool:
        return bool(self.lines) or self.delta != ZERO

    def summary(self) -> str:
        """ "Since 2026-11: +$189.90 — NBN 100 added (pro-rata from 12 Dec, 20 days)" """
        if self.previous_number is None:
            return "First invoice for this customer."
        if not self.changed:
            return f"Same as {self.previous_period} ({self.previous_number})."
        sign = "+" if self.delta >= 0 else "-"
        head = f"Since {self.previous_period}: {sign}{format_money(abs(self.delta), self.currency)}"
        return head + (" — " + "; ".join(c.sentence() for c in self.lines) if self.lines else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "previous_number": self.previous_number,
            "previous_period": self.previous_period,
            "delta": f"{self.delta:.2f}",
            "lines": [c.as_dict() for c in self.lines],
        }


def compare(
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    previous: Invoice | None,
    previous_lines: Sequence[InvoiceLine],
) -> InvoiceChanges:
    if previous is None:
        return InvoiceChanges(None, None, invoice.total, (), invoice.currency)
    old = {_key(line): line for line in previous_lines}
    new = {_key(line): line for line in lines}
    period = Period.parse(invoice.period)
    out: list[LineChange] = []
    for key, line in new.items():
        before = old.get(key)
        if before is None:
            out.append(LineChange("added", line.description, line.amount, line.amount, _added(line, period)))
        elif before.amount != line.amount or before.quantity != line.quantity:
            reason = _changed(before, line, period, invoice.currency)
            out.append(
                LineChange("changed", line.description, line.amount, line.amount - before.amount, reason)
            )
    for key, line in old.items():
        if key not in new:
            why = _stored_reason(line) or (
                "once-off last time" if line.kind == "once_off" else "no longer billed"
            )
            out.append(LineChange("removed", line.description, ZERO, -line.amount, why))
    return InvoiceChanges(
        previous.number, previous.period, invoice.total - previous.total, tuple(out), invoice.currency
    )


def _key(line: InvoiceLine) -> tuple[str, str]:
    ident = str(line.source_id) if line.source_id is not None else line.description.casefold()
    return (line.kind, ident)


def _stored_reason(line: InvoiceLine) -> str | None:
    reason = getattr(line, "reason", None)  # the billing ledger stores one on new lines
    return str(reason) if reason else None


def _added(line: InvoiceLine, period: Period) -> str:
    stored = _stored_reason(line)
    if stored:
        return stored
    if line.kind in KIND_REASONS:
        return KIND_REASONS[line.kind]
    start = line.period_start
    if start is not None and start > period.first_day and start <= period.last_day:
        end = line.period_end or period.last_day
        return f"pro-rata from {start:%-d %b}, {(end - start).days + 1} days"
    return "new"


def _changed(before: InvoiceLine, line: InvoiceLine, period: Period, currency: str) -> str:
    stored = _stored_reason(line)
    if stored:
        return stored
    parts = []
    if before.quantity != line.quantity:
        parts.append(f"quantity {before.quantity.normalize():f} → {line.quantity.normalize():f}")
    if before.unit_price != line.unit_price:
        parts.append(
            f"price {format_money(before.unit_price, currency)} → {format_money(line.unit_price, currency)}"
        )
    if not parts:
        start, end = line.period_start, line.period_end
        if start is not None and end is not None and (start > period.first_day or end < period.last_day):
            parts.append(f"pro-rata {start:%-d %b}–{end:%-d %b}")
        elif before.period_start is not None and before.period_start.day != 1:
            parts.append("full month after a pro-rata start")
        else:
            parts.append(f"{format_money(before.amount, currency)} → {format_money(line.amount, currency)}")
    return ", ".join(parts)
