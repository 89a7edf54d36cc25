"""A billed book driven from Slack (the `book` fixture, registered in tests/handlers/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core import charges
from core.charge_validation import validate_once_off, validate_recurring_charge
from core.db import session_scope
from models.invoices import Invoice
from tests import factories
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender


@pytest.fixture
def book(engine: Engine) -> dict[str, int]:
    factories.configure(engine, terms=30)
    ids = {}
    for name, price, terms in (("Acme Plumbing", "100", None), ("Bravo Dental", "250.50", "14")):
        customer = factories.customer(engine, name, payment_terms_days=terms)
        ids[name] = customer.id
        with session_scope(engine) as db:
            charges.add_recurring_charge(
                db=db,
                actor="U0ADMIN",
                customer_id=customer.id,
                data=validate_recurring_charge(
                    description="Managed services",
                    unit_price=price,
                    quantity="1",
                    frequency="monthly",
                    effective_from="2026-11-01",
                ),
                clock=FixedClock(),
            )
    with session_scope(engine) as db:
        charges.add_once_off(
            db=db,
            actor="U0ADMIN",
            customer_id=ids["Acme Plumbing"],
            data=validate_once_off(
                description="Router", unit_price="199", quantity="1", item_date="2026-11-20"
            ),
            clock=FixedClock(),
        )
    factories.customer(engine, "Idle Co")
    return ids


def invoices(engine: Engine) -> list[Invoice]:
    with Session(engine) as db:
        return list(db.exec(select(Invoice).order_by(Invoice.id)).all())


def billrun_preview(slack: SlackSender, fake: FakeSlack) -> dict[str, Any]:
    """The preview arrives after the ack, through the command's response_url."""
    assert "Working out the bill run" in slack.command("billrun 2026-12").json()["text"]
    return fake.calls_to("response_url")[-1].params


def run_billrun(slack: SlackSender, fake: FakeSlack) -> dict[str, Any]:
    preview = billrun_preview(slack, fake)
    button = preview["blocks"][1]["elements"][0]
    slack.block_action(button["action_id"], value=button["value"])
    return fake.calls_to("response_url")[-1].params
