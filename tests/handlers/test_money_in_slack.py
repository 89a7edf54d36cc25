"""Slack shows money through core.money in the configured currency, as the invoices do."""

from __future__ import annotations

from decimal import Decimal

from core.calculation import Period
from core.margins import MarginRow
from handlers.charge_views import lines_and_totals
from handlers.usage_views import margins_blocks
from tests.harness.slack_views import texts


class _Line:
    description = "Managed backup"
    taxable = True
    quantity = Decimal("2")
    unit_price = Decimal("12.5")
    amount = Decimal("25.00")


def test_a_business_billing_in_nzd_sees_nzd_not_dollars() -> None:
    shown = texts(
        lines_and_totals(
            [_Line()],
            subtotal=Decimal("25.00"),
            tax=Decimal("3.75"),
            total=Decimal("28.75"),
            tax_rate=Decimal("0.15"),
            limit=10,
            currency="NZD",
        )
    )
    assert "NZD12.50" in shown and "NZD28.75" in shown and "$" not in shown


def test_margins_read_in_the_currency_passed() -> None:
    row = MarginRow(
        customer_id=1,
        customer_name="Alpha",
        service_id=None,
        service_name="Voice",
        revenue=Decimal("100.00"),
        cost=Decimal("80.00"),
        uncosted=Decimal("0.00"),
    )
    shown = texts(margins_blocks(str(Period(2026, 12)), [row], [], currency="NZD"))
    assert "NZD20.00" in shown and "$" not in shown
