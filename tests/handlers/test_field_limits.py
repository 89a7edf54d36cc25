"""A text input in Slack is as long as the column it fills: both read the model's max_length."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers import charge_views, customer_views, setup
from models.charges import OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.system import BillingSettings
from models.types import max_length


def _limits(blocks: list[dict[str, Any]]) -> dict[str, int]:
    return {
        b["block_id"]: b["element"]["max_length"]
        for b in blocks
        if b.get("type") == "input" and "max_length" in b.get("element", {})
    }


def _check(blocks: list[dict[str, Any]], model: type, fields: list[str]) -> None:
    shown = _limits(blocks)
    assert {f: shown[f] for f in fields} == {f: max_length(model, f) for f in fields}


def test_customer_form_inputs_follow_the_customer_columns() -> None:
    blocks = customer_views.customer_form_blocks(None, default_days=30, psa_required=False)
    _check(blocks, EndCustomer, ["company_name", "email", "contact_number", "address_line1", "postcode"])


def test_service_charge_and_once_off_inputs_follow_their_columns() -> None:
    today = date(2026, 12, 1)
    service = charge_views.service_form(customer_id=1, parent=None, today=today)
    _check(service["blocks"], Service, ["name", "reference", "psa_reference"])
    charge = charge_views.charge_form(customer_id=1, parent=None, today=today, services=[])
    _check(charge["blocks"], RecurringCharge, ["description", "quantity_feed"])
    item = charge_views.once_off_form(customer_id=1, parent=None, today=today)
    _check(item["blocks"], OnceOffItem, ["description"])


def test_settings_inputs_follow_the_settings_columns() -> None:
    row = BillingSettings(id=1, business_name="Acme", invoice_prefix="INV-", default_payment_terms_days=14)
    basics = setup.settings_modal(row, first_time=True, origin={}, next_number=1)["blocks"]
    _check(basics, BillingSettings, ["business_name", "invoice_prefix"])
    _check(
        setup.more_settings_blocks(row), BillingSettings, ["abn", "business_email", "logo_path", "currency"]
    )
    _check(setup.ledger_settings_blocks(row), BillingSettings, ["credit_note_prefix"])
