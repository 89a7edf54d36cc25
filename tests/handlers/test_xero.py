"""Xero in Slack, through the real HTTP endpoint: the invoice's Xero line and Push to Xero, the
Xero section of /rebill settings (choices read from Xero), and the App Home line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from core import invoices
from core.db import session_scope
from core.xero_settings import load_settings
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.fake_xero import FakeXero
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import texts
from tests.harness.xero_setup import billed_month, map_codes


@pytest.fixture
def fake(clock: FixedClock, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[FakeXero]:  # type: ignore[no-untyped-def]
    server = FakeXero(clock=clock).start()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "XERO_CLIENT_ID": server.client_id,
        "XERO_CLIENT_SECRET": server.client_secret,
        "XERO_IDENTITY_URL": server.base_url,
        "XERO_API_URL": server.api_url,
        "XERO_CONNECTIONS_URL": server.connections_url,
    }.items():
        monkeypatch.setenv(name, value)
    yield server
    server.stop()
    assert server.violations == []


def selected(value: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}},
    }


def test_push_to_xero_from_the_invoice_view_and_home_shows_the_connection(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, fake: FakeXero
) -> None:
    numbers = billed_month(engine, ["Alpha Dental"])
    map_codes(engine)
    with session_scope(engine) as db:
        invoice_id = invoices.find(db=db, ref=numbers["Alpha Dental"]).id
    slack.event({"type": "app_home_opened", "user": "U0ADMIN", "tab": "home"})
    assert "Xero: not connected yet" in texts(
        fake_slack.wait_for("views.publish")[-1].params["view"]["blocks"]
    )

    slack.block_action("invoice_open", value=str(invoice_id))
    opened = fake_slack.calls_to("views.open")[-1].params["view"]
    assert "*Xero:* not pushed yet" in texts(opened["blocks"])
    opened = {**opened, "id": "V0INVOICE"}
    slack.block_action("xero_push", value=str(invoice_id), view=opened)
    [theirs] = fake.by_number(numbers["Alpha Dental"])
    updated = fake_slack.calls_to("views.update")[-1].params["view"]
    shown = texts(updated["blocks"])
    assert "*Xero:* pushed (authorised)" in shown
    assert (
        f"shortcode=!fake1&redirecturl=/AccountsReceivable/View.aspx?InvoiceID={theirs.id}|Open in Xero"
        in shown
    )
    assert "xero_push" not in str(updated["blocks"])

    slack.event({"type": "app_home_opened", "user": "U0ADMIN", "tab": "home"})
    home = texts(fake_slack.wait_for("views.publish")[-1].params["view"]["blocks"])
    assert "Xero: connected to *Demo MSP Pty Ltd*" in home


def test_a_refused_push_is_shown_to_the_person(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, fake: FakeXero
) -> None:
    numbers = billed_month(engine, ["Alpha Dental"])  # no account code mapped yet
    with session_scope(engine) as db:
        invoice_id = invoices.find(db=db, ref=numbers["Alpha Dental"]).id
    slack.block_action(
        "xero_push",
        value=str(invoice_id),
        view={"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"},
    )
    notice = fake_slack.calls_to("views.push")[-1].params["view"]
    assert "Not pushed: Set the Xero sales account code" in texts(notice["blocks"])
    assert fake.invoices() == []


def test_the_xero_section_of_settings_reads_choices_from_xero_and_saves(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine, fake: FakeXero
) -> None:
    billed_month(engine, ["Alpha Dental"], approve=False)
    slack.command("settings")
    settings_view = fake_slack.calls_to("views.open")[-1].params["view"]
    assert "Xero settings" in texts(settings_view["blocks"])
    slack.block_action("xero_settings_open", view={**settings_view, "id": "V0SETTINGS"})
    assert "Reading the accounts" in texts(fake_slack.calls_to("views.push")[-1].params["view"]["blocks"])
    form = fake_slack.calls_to("views.update")[-1].params["view"]
    assert form["callback_id"] == "xero_settings_form"
    shown = texts(form["blocks"])
    assert "200 Sales" in shown and "GST on Income (10%)" in shown and "400 Advertising" not in shown
    initial = {b["block_id"]: b["element"].get("initial_option", {}).get("value") for b in form["blocks"]}
    assert initial["tax_type_taxable"] == "OUTPUT" and initial["tax_type_free"] == "EXEMPTOUTPUT"
    answer = slack.view_submission(
        form,
        {
            "account_code": {"value": selected("200")},
            "tax_type_taxable": {"value": selected("OUTPUT")},
            "tax_type_free": {"value": selected("EXEMPTOUTPUT")},
            "invoice_status": {"value": selected("DRAFT")},
            "push_mode": {"value": selected("approve")},
        },
    )
    assert answer.status_code == 200
    with session_scope(engine) as db:
        row = load_settings(db)
        assert (row.account_code, row.tax_type_taxable, row.invoice_status, row.push_mode) == (
            "200",
            "OUTPUT",
            "DRAFT",
            "approve",
        )
