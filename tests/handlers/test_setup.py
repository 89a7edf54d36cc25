"""`/rebill settings` once set up: every global setting, validated field by field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import billing_settings, numbering
from core.db import session_scope
from models.system import BillingSettings
from tests import factories
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, text_value
from tests.harness.slack_views import texts


def state(view: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """What Slack would submit for the modal as shown (initial values), with some fields changed."""
    out: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element, name = block["element"], block["block_id"]
        kind = element["type"]
        if kind == "plain_text_input":
            value: Any = text_value(overrides.get(name, element.get("initial_value")))
        elif kind == "static_select":
            chosen = overrides.get(name, element.get("initial_option", {}).get("value"))
            value = {"type": kind, "selected_option": {"value": chosen}}
        elif kind == "checkboxes":
            chosen = overrides.get(name, [o["value"] for o in element.get("initial_options", [])])
            value = {"type": kind, "selected_options": [{"value": v} for v in chosen]}
        elif kind == "conversations_select":
            value = {
                "type": kind,
                "selected_conversation": overrides.get(name, element.get("initial_conversation")),
            }
        elif kind == "timepicker":
            value = {"type": kind, "selected_time": overrides.get(name, element.get("initial_time"))}
        else:
            raise AssertionError(kind)
        out[name] = {"value": value}
    return out


def test_full_settings_validate_and_save(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine)
    slack.command("settings")
    view = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0SETTINGS"}
    shown = texts(view["blocks"])
    assert "Schedule and alerts" in shown and "GST rate (%)" in shown

    bad = slack.view_submission(
        view,
        state(
            view, tax_rate="ten", currency="XYZ", bill_run_day="31", business_email="nope", invoice_prefix=""
        ),
    ).json()["errors"]
    assert set(bad) == {"tax_rate", "currency", "bill_run_day", "business_email", "invoice_prefix"}

    good = state(
        view,
        tax_rate="15",
        currency="nzd",
        bill_run_day="3",
        bill_run_hour="6",
        alert_channel_id="C0ALERTS",
        options=["auto_approve", "reminders"],
        missing_email_digest_time="08:30",
        billing_mode="arrears",
        abn="51 824 753 556",
        default_payment_terms_days="21",
    )
    assert slack.view_submission(view, good).text == ""
    assert "Billing settings saved" in fake_slack.wait_for("response_url")[-1].params["text"]
    with Session(engine) as db:
        row = db.get(BillingSettings, 1)
        assert row is not None
        assert (row.tax_rate, row.currency, row.bill_run_day, row.bill_run_hour) == (
            Decimal("0.15"),
            "NZD",
            3,
            6,
        )
        assert (row.alert_channel_id, row.auto_approve, row.auto_send, row.reminders_enabled) == (
            "C0ALERTS",
            True,
            False,
            True,
        )
        assert (row.missing_email_digest_time, row.billing_mode, row.default_payment_terms_days) == (
            "08:30",
            "arrears",
            21,
        )


def test_next_invoice_number_moves_forward_only(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine, start=1)
    with session_scope(engine) as db:  # two invoices' numbers used
        numbering.allocate(db, settings=billing_settings.load(db), count=2)
    slack.command("settings")
    view = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0SETTINGS"}
    field = next(b for b in view["blocks"] if b.get("block_id") == "invoice_start_number")
    assert field["label"]["text"] == "Next invoice number" and field["element"]["initial_value"] == "3"
    errors = slack.view_submission(view, state(view, invoice_start_number="2")).json()["errors"]
    assert errors == {"invoice_start_number": "INV-00002 is already used: the next number can't go below 3."}
    assert slack.view_submission(view, state(view, invoice_start_number="500")).text == ""
    with session_scope(engine) as db:
        assert numbering.peek(db, settings=billing_settings.load(db)) == "INV-00500"


def test_ledger_settings_through_the_modal(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine)
    slack.command("settings")
    view = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0SETTINGS"}
    shown = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"}
    assert (shown["credit_note_prefix"], shown["back_billing_months"]) == ("CN-", "3")

    bad = slack.view_submission(view, state(view, credit_note_prefix="inv-", back_billing_months="25")).json()
    assert bad["response_action"] == "errors"
    assert bad["errors"] == {
        "credit_note_prefix": "Use a prefix other than the invoice prefix: credit notes have their own series.",
        "back_billing_months": "The back-billing horizon (months) must be a whole number from 0 to 24.",
    }
    errors = slack.view_submission(view, state(view, credit_note_prefix="", back_billing_months="x")).json()
    assert set(errors["errors"]) == {"credit_note_prefix", "back_billing_months"}
    with Session(engine) as db:
        row = db.get(BillingSettings, 1)
        assert row is not None and (row.credit_note_prefix, row.back_billing_months) == ("CN-", 3)

    assert (
        slack.view_submission(view, state(view, credit_note_prefix="ADJ-", back_billing_months="0")).text
        == ""
    )
    assert "Billing settings saved" in fake_slack.wait_for("response_url")[-1].params["text"]
    with Session(engine) as db:
        row = db.get(BillingSettings, 1)
        assert row is not None and (row.credit_note_prefix, row.back_billing_months) == ("ADJ-", 0)
        assert numbering.credit_note_series(row) == "ADJ-"
