"""What a person should look at before a month's invoices go out: the month close's exceptions.

Each rule is a plain function from one invoice (with what it is checked against) to an
`Exception_` or None, listed once in `RULES`. The month close runs them all; the report shows
each finding as a card with its fix at hand (`fix` names the button: "add_email", "open").

Extension point: other features add their checks by appending a rule to `RULES` (or passing
their own list to `core.month_close.close_month(rules=...)`), e.g. the billing ledger's
"catch-up beyond the back-billing horizon" and the margins feature's "margin below floor".
A rule reads optional data defensively (`getattr(line, "kind", None)`) so it works before and
after the schema that carries it is merged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.money import ZERO, format_money, margin_percent_of
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine
from models.system import BillingSettings


@dataclass(frozen=True)
class CloseException:
    """One finding: a stable code, a sentence for people, and the fix to offer."""

    code: str
    message: str
    fix: str = "open"  # "add_email" | "open"


@dataclass(frozen=True)
class RuleInput:
    invoice: Invoice
    customer: EndCustomer | None
    previous: Invoice | None  # the customer's latest earlier invoice (not void), if any
    lines: Sequence[InvoiceLine]
    settings: BillingSettings
    psa_configured: bool


Rule = Callable[[RuleInput], CloseException | None]


def no_email(data: RuleInput) -> CloseException | None:
    if data.customer is not None and data.customer.email:
        return None
    return CloseException("no_email", "no e-mail address: it can't be sent", fix="add_email")


def total_changed(data: RuleInput) -> CloseException | None:
    """Total moved by more than the threshold (per cent, /rebill settings) since the last invoice."""
    if data.previous is None or data.previous.total == ZERO:
        return None
    threshold = Decimal(data.settings.change_threshold_pct)
    change = (data.invoice.total - data.previous.total) / abs(data.previous.total) * 100
    if abs(change) <= threshold:
        return None
    word = "up" if change > 0 else "down"
    return CloseException(
        "total_changed",
        f"total {word} {abs(change):.0f}% since {data.previous.period} "
        f"({format_money(data.previous.total, data.invoice.currency)} → {format_money(data.invoice.total, data.invoice.currency)})",
    )


def zero_or_credit(data: RuleInput) -> CloseException | None:
    if data.invoice.total > ZERO:
        return None
    what = "zero" if data.invoice.total == ZERO else "a credit"
    return CloseException(
        "zero_or_credit", f"the total is {what} ({format_money(data.invoice.total, data.invoice.currency)})"
    )


def inactive_in_psa(data: RuleInput) -> CloseException | None:
    if data.customer is None or not data.customer.psa_inactive:
        return None
    return CloseException("inactive_in_psa", "no longer active in the PSA, but still billed")


def not_psa_linked(data: RuleInput) -> CloseException | None:
    if not data.psa_configured or data.customer is None or data.customer.psa_ref:
        return None
    return CloseException("not_psa_linked", "has charges but isn't linked to a PSA company")


def old_catch_up(data: RuleInput) -> CloseException | None:
    """Unbilled days older than the back-billing horizon (the ledger): neither billed nor dropped
    silently; a person decides (Run, with older catch-up; `close --include-old-catch-up`)."""
    held = data.invoice.held_catch_up
    if not held:
        return None
    return CloseException(
        "old_catch_up",
        f"{format_money(held, data.invoice.currency)} of catch-up older than the back-billing horizon is not billed: "
        'bill it with "Run, with older catch-up" (or `rebill-bot close --include-old-catch-up`)',
    )


def margin_below_floor(data: RuleInput) -> CloseException | None:
    """The invoice's margin (% on cost, over its costed lines) under the floor in the settings."""
    floor = data.settings.margin_floor_percent
    costed = [line for line in data.lines if line.cost is not None]
    if floor is None or not costed:
        return None
    revenue = sum((line.amount for line in costed), ZERO)
    cost = sum((line.cost or ZERO for line in costed), ZERO)
    pct = margin_percent_of(revenue, cost)
    if pct is None or pct >= floor:
        return None
    return CloseException(
        "margin_below_floor", f"margin {pct}% on cost is below the floor of {floor.normalize():f}%"
    )


RULES: list[Rule] = [
    no_email,
    total_changed,
    zero_or_credit,
    inactive_in_psa,
    not_psa_linked,
    old_catch_up,
    margin_below_floor,
]


def check(data: RuleInput, rules: Sequence[Rule] = RULES) -> list[CloseException]:
    return [found for rule in rules if (found := rule(data)) is not None]
