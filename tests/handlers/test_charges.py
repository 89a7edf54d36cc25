"""Services, recurring charges and once-off items through the real endpoint and fake Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import session_scope
from models.charges import OnceOffItem, RecurringCharge, Service
from models.invoices import Invoice
from models.system import AuditLog
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import button_value, pick, pushed, rows, texts, values


def menu_values(view: dict[str, Any]) -> list[str]:
    return [
        o["value"]
        for b in view["blocks"]
        if b.get("accessory", {}).get("type") == "overflow"
        for o in b["accessory"]["options"]
    ]


def latest_customer_view(fake: FakeSlack) -> dict[str, Any]:
    view = fake.calls_to("views.update")[-1].params
    assert view["view_id"] == "V0CUSTOMER"
    return view["view"] | {"id": "V0CUSTOMER"}


CHARGE = {
    "description": "Microsoft 365 Business Premium",
    "unit_price": "$1,234.50",
    "quantity": "2.5",
    "frequency": "monthly",
    "effective_from": "2026-11-01",
    "end_date": None,
    "taxable": True,
}


def test_recurring_charge_add_edit_end(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    slack.block_action("charge_add", value=button_value(customer_view, "charge_add"), view=customer_view)
    form = pushed(fake_slack, 1)
    assert slack.view_submission(form, values(**CHARGE)).text == ""
    view = latest_customer_view(fake_slack)
    shown = texts(view["blocks"])
    assert "*Recurring charges* (1) · $3,086.25 a month ex-GST" in shown
    [charge] = rows(engine, RecurringCharge)
    assert (charge.unit_price, charge.quantity) == (Decimal("1234.5000"), Decimal("2.5000"))

    pick(slack, view, f"rc_edit:{charge.id}")
    form = pushed(fake_slack, 2)
    slack.view_submission(form, values(**(CHARGE | {"quantity": "3", "unit_price": "10"})))
    assert "$30.00 a month" in texts(latest_customer_view(fake_slack)["blocks"])

    pick(slack, view, f"rc_end:{charge.id}")
    form = pushed(fake_slack, 3)
    assert slack.view_submission(form, values(end_date="2026-10-01")).json()["errors"]["end_date"]
    slack.view_submission(form, values(end_date="2026-12-31"))
    assert rows(engine, RecurringCharge)[0].end_date == date(2026, 12, 31)
    assert "to 31 Dec 2026" in texts(latest_customer_view(fake_slack)["blocks"])
    with Session(engine) as db:
        actions = [
            a.action for a in db.exec(select(AuditLog).where(AuditLog.entity == "recurring_charge")).all()
        ]
    assert actions == ["create", "update", "end_date"]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("description", ""),
        ("description", "x" * 201),
        ("unit_price", "abc"),
        ("unit_price", "NaN"),
        ("unit_price", "1e5"),
        ("unit_price", "-3"),
        ("unit_price", "1000000"),
        ("unit_price", "1.23456"),
        ("quantity", "0"),
        ("quantity", "100001"),
        ("end_date", "2026-10-31"),
    ],
)
def test_recurring_charge_validation_errors(
    slack: SlackSender,
    fake_slack: FakeSlack,
    engine: Engine,
    customer_view: dict[str, Any],
    field: str,
    bad: str,
) -> None:
    slack.block_action("charge_add", value=button_value(customer_view, "charge_add"), view=customer_view)
    errors = slack.view_submission(pushed(fake_slack, 1), values(**(CHARGE | {field: bad}))).json()["errors"]
    assert list(errors) == [field]
    assert rows(engine, RecurringCharge) == []


def test_double_submission_adds_one_charge(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    slack.block_action("charge_add", value=button_value(customer_view, "charge_add"), view=customer_view)
    form = pushed(fake_slack, 1)
    slack.view_submission(form, values(**CHARGE))
    slack.view_submission(form, values(**CHARGE))
    assert len(rows(engine, RecurringCharge)) == 1


def test_service_add_exclude_cancel_takes_charges_with_it(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    slack.block_action("service_add", value=button_value(customer_view, "service_add"), view=customer_view)
    form = pushed(fake_slack, 1)
    assert slack.view_submission(form, values(name="", start_date="2026-11-01")).json()["errors"]["name"]
    assert slack.view_submission(
        form, values(name="Phone line", start_date="2026-11-01", end_date="2026-10-01")
    ).json()["errors"]["end_date"]
    slack.view_submission(form, values(name="Phone line", reference="02 9000 1234", start_date="2026-11-01"))
    [service] = rows(engine, Service)
    view = latest_customer_view(fake_slack)
    assert "*Phone line* · 02 9000 1234" in texts(view["blocks"])

    slack.block_action("charge_add", value=button_value(view, "charge_add"), view=view)
    charge_form = pushed(fake_slack, 2)
    service_options = next(b for b in charge_form["blocks"] if b["block_id"] == "service_id")["element"][
        "options"
    ]
    assert [o["value"] for o in service_options] == ["none", str(service.id)]
    slack.view_submission(
        charge_form, values(**(CHARGE | {"unit_price": "40", "quantity": "1", "service_id": str(service.id)}))
    )

    pick(slack, view, f"svc_exclude:{service.id}")
    assert "_excluded from the next invoice_" in texts(latest_customer_view(fake_slack)["blocks"])
    slack.block_action("invoice_preview", value=button_value(view, "invoice_preview"), view=view)
    assert "Nothing to bill" in texts(pushed(fake_slack, 3)["blocks"])
    pick(slack, view, f"svc_include:{service.id}")

    pick(slack, view, f"svc_cancel:{service.id}")
    slack.view_submission(pushed(fake_slack, 4), values(end_date="2026-11-30"))
    [service] = rows(engine, Service)
    assert service.status == "cancelled" and service.end_date == date(2026, 11, 30)
    assert "cancelled, ended 30 Nov 2026" in texts(latest_customer_view(fake_slack)["blocks"])


def test_once_off_add_edit_delete_and_invoiced_refusal(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    item = {
        "description": "On-site visit",
        "unit_price": "450",
        "quantity": "1",
        "item_date": "2026-11-20",
        "taxable": True,
    }
    slack.block_action("once_off_add", value=button_value(customer_view, "once_off_add"), view=customer_view)
    form = pushed(fake_slack, 1)
    assert list(slack.view_submission(form, values(**(item | {"item_date": None}))).json()["errors"]) == [
        "item_date"
    ]
    slack.view_submission(form, values(**item))
    view = latest_customer_view(fake_slack)
    assert "*On-site visit*: $450.00 · 20 Nov 2026\n_Not yet invoiced_" in texts(view["blocks"])
    [first] = rows(engine, OnceOffItem)

    pick(slack, view, f"oo_edit:{first.id}")
    slack.view_submission(pushed(fake_slack, 2), values(**(item | {"unit_price": "500"})))
    assert rows(engine, OnceOffItem)[0].unit_price == Decimal("500")

    pick(slack, view, f"oo_delete:{first.id}")
    slack.view_submission(pushed(fake_slack, 3), {})
    assert rows(engine, OnceOffItem) == []

    # An invoiced item can be neither changed nor deleted, and the menu says why.
    slack.block_action("once_off_add", value=button_value(customer_view, "once_off_add"), view=customer_view)
    slack.view_submission(pushed(fake_slack, 4), values(**item))
    [second] = rows(engine, OnceOffItem)
    with session_scope(engine) as db:
        invoice = Invoice(
            customer_id=second.customer_id,
            period="2026-12",
            number="INV-00012",
            series="INV-",
            sequence=12,
            issue_date=date(2026, 12, 1),
            due_date=date(2026, 12, 31),
            subtotal=Decimal("450"),
            tax=Decimal("45"),
            total=Decimal("495"),
            tax_rate=Decimal("0.1"),
            tax_rounding="per-invoice-half-up",
            payment_terms_days=30,
            customer_name="Acme Plumbing",
            created_by="U0ADMIN",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
        db.add(invoice)
        db.flush()
        db.get(OnceOffItem, second.id).invoice_id = invoice.id
    for choice in ("oo_edit", "oo_delete"):
        pick(slack, view, f"{choice}:{second.id}")
    notices = [c.params["view"] for c in fake_slack.calls_to("views.push")[-2:]]
    assert "Already invoiced on INV-00012; it can't be changed." in texts(notices[0]["blocks"])
    assert "Already invoiced on INV-00012; it can't be deleted." in texts(notices[1]["blocks"])


def test_preview_next_invoice(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    slack.block_action("charge_add", value=button_value(customer_view, "charge_add"), view=customer_view)
    slack.view_submission(
        pushed(fake_slack, 1),
        values(**(CHARGE | {"unit_price": "100", "quantity": "1", "effective_from": "2026-12-17"})),
    )
    slack.block_action(
        "invoice_preview", value=button_value(customer_view, "invoice_preview"), view=customer_view
    )
    shown = texts(pushed(fake_slack, 2)["blocks"])
    # December 2026 (the next invoice, in advance): 15 of 31 days from the 17th.
    # Running totals: R(100 x 31/31) - R(100 x 16/31) = 100.00 - 51.61 = 48.39; GST 4.84; total 53.23.
    assert "the invoice for *2026-12*" in shown
    assert "pro-rata 15/31 days" in shown and "= *$48.39*" in shown
    assert "Subtotal $48.39\nGST (10%) $4.84\n*Total $53.23*" in shown


def test_charge_form_takes_a_cost_and_prices_it_at_the_default_margin_shown_only_internally(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    with session_scope(engine) as db:
        from models.system import BillingSettings

        db.get(BillingSettings, 1).default_margin_percent = Decimal("25")  # type: ignore[union-attr]
    slack.block_action("charge_add", value=button_value(customer_view, "charge_add"), view=customer_view)
    form = pushed(fake_slack, 1)
    assert {"unit_cost", "quantity_feed"} <= {b.get("block_id") for b in form["blocks"]}
    priced = CHARGE | {"unit_price": "", "unit_cost": "13.5791"}
    assert slack.view_submission(form, values(**priced)).text == ""
    [charge] = rows(engine, RecurringCharge)
    assert (charge.unit_price, charge.unit_cost) == (Decimal("16.9700"), Decimal("13.5791"))
    view = latest_customer_view(fake_slack)
    assert "cost $13.58 · margin 24.97%" in texts(view["blocks"])
    slack.block_action("invoice_preview", value=button_value(view, "invoice_preview"), view=view)
    preview = texts(pushed(fake_slack, 2)["blocks"])
    assert "Internal: cost $33.95 · margin $8.48 (24.98%)" in preview  # 2.5 x 13.5791, 2.5 x 16.97

    errors = slack.view_submission(form, values(**(CHARGE | {"unit_price": "", "unit_cost": ""}))).json()
    assert "unit cost" in errors["errors"]["unit_price"]


def test_service_form_sets_a_margin_override_and_refuses_a_bad_one(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, customer_view: dict[str, Any]
) -> None:
    slack.block_action("service_add", value=button_value(customer_view, "service_add"), view=customer_view)
    form = pushed(fake_slack, 1)
    bad = values(name="Voice", start_date="2026-11-01", margin_percent="lots")
    assert "margin" in slack.view_submission(form, bad).json()["errors"]["margin_percent"]
    assert (
        slack.view_submission(form, values(name="Voice", start_date="2026-11-01", margin_percent="35")).text
        == ""
    )
    [service] = rows(engine, Service)
    assert service.margin_percent == Decimal("35")


def test_menu_choices_round_trip_and_unknown_ones_are_ignored() -> None:
    from handlers.charge_views import MenuVerb, parse_menu_choice

    assert all(parse_menu_choice(verb.on(42)) == (verb, 42) for verb in MenuVerb)
    assert parse_menu_choice("svc_archive:42") is None  # a verb from another version's message
    assert parse_menu_choice("rc_edit:²") is None


def test_the_charge_form_reads_back_as_a_typed_value() -> None:
    from handlers.charge_views import ChargeForm, parse_charge_form

    state = values(
        description="NBN 100",
        unit_price="89.5",
        quantity="1",
        taxable=True,
        frequency="monthly",
        effective_from="2026-12-01",
        service_id="none",
    )
    form = parse_charge_form({"state": {"values": state}})
    assert form == ChargeForm(
        description="NBN 100",
        unit_price="89.5",
        unit_cost=None,
        quantity="1",
        taxable=True,
        frequency="monthly",
        effective_from="2026-12-01",
        end_date=None,
        service_id=None,  # "none" in the menu: not tied to a service
        quantity_feed=None,
        change_from=None,
    )
