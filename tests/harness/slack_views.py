"""Driving and reading Slack views in tests: block texts, form values, the customer view, picks and pushes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from integrations.config import PsaSettings, load_psa_settings
from tests import factories
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, text_value


def texts(blocks: list[dict[str, Any]]) -> str:
    """Every piece of text in some blocks, to assert on what a user would read."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text"):
                out.append(node.get("text", ""))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(out)


def form_values(**values: str | None) -> dict[str, dict[str, Any]]:
    return {field: {"value": text_value(value)} for field, value in values.items()}


def last_view(fake: FakeSlack, method: str) -> dict[str, Any]:
    return fake.calls_to(method)[-1].params["view"]


def open_new_form(slack: SlackSender, fake: FakeSlack) -> dict[str, Any]:
    slack.command("new")
    chooser = fake.wait_for("views.open")[-1].params["view"]
    chooser["id"] = "V0CHOOSE"
    assert "Import from integration" in texts(chooser["blocks"])  # shown, disabled with a reason
    slack.block_action("customer_new_manual", view=chooser)
    form = last_view(fake, "views.update")
    form["id"] = "V0CHOOSE"
    return form


VALID = {
    "company_name": "  Acme   Plumbing ",
    "email": "Accounts@Acme.COM.au",
    "contact_number": "+61 2 9999 0000",
    "address_line1": "1 George St",
    "city": "Sydney",
    "state": "NSW",
    "postcode": "2000",
    "country": "Australia",
    "payment_terms_days": "",
}


def values(**fields: Any) -> dict[str, dict[str, Any]]:
    """Submitted state for text, date, select and checkbox inputs, keyed like our forms."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        if name in ("start_date", "end_date", "effective_from", "item_date"):
            state = {"type": "datepicker", "selected_date": value}
        elif name in ("frequency", "service_id"):
            state = {"type": "static_select", "selected_option": {"value": value} if value else None}
        elif name == "taxable":
            state = {"type": "checkboxes", "selected_options": [{"value": "yes"}] if value else []}
        else:
            state = text_value(value)
        out[name] = {"value": state}
    return out


@pytest.fixture
def customer_view(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> dict[str, Any]:
    factories.configure(engine)
    customer = factories.customer(engine, "Acme Plumbing")
    slack.block_action("customer_open", value=str(customer.id))
    view = fake_slack.wait_for("views.open")[-1].params["view"]
    view["id"] = "V0CUSTOMER"
    return view


def button_value(view: dict[str, Any], action_id: str) -> str:
    for block in view["blocks"]:
        for element in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
            if element.get("action_id") == action_id:
                return element.get("value", "")
    raise AssertionError(f"no {action_id} in view")


def pick(slack: SlackSender, view: dict[str, Any], value: str) -> None:
    slack.block_action("charge_menu", view=view, selected_option={"value": value})


def pushed(fake: FakeSlack, n: int) -> dict[str, Any]:
    """The n-th view pushed, with the id Slack would have given it (the same on every submission)."""
    return fake.wait_for("views.push", n)[-1].params["view"] | {"id": f"V0PUSHED{n}"}


def rows(engine: Engine, model: type) -> list[Any]:
    with Session(engine) as db:
        return list(db.exec(select(model).order_by(model.id)).all())


def psa_settings(kind: str, fake: Any) -> PsaSettings:
    if kind == "autotask":
        values: dict[str, Any] = {
            "autotask_username": fake.username,
            "autotask_secret": fake.secret,
            "autotask_integration_code": fake.integration_code,
            "autotask_zone_url": fake.zone_url,
        }
    elif kind == "connectwise":
        values = {
            "connectwise_site": fake.base_url,
            "connectwise_company_id": fake.company_id,
            "connectwise_public_key": fake.public_key,
            "connectwise_private_key": fake.private_key,
            "connectwise_client_id": fake.client_id,
        }
    else:
        values = {
            "halopsa_url": fake.url,
            "halopsa_client_id": fake.client_id,
            "halopsa_client_secret": fake.client_secret,
        }
    return load_psa_settings(_env_file=None, rebill_psa=kind, psa_timeout=5, **values)
