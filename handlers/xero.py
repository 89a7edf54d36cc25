"""Listeners for Xero: the settings modal (choices read from Xero) and Push to Xero on an invoice.

The slow part of each (calls to Xero) is a plain function of (engine, clock, ...) that takes no
Slack objects, so it can be handed to the bounded pool for slow work as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App
from sqlalchemy.engine import Engine

from core import invoices
from core.clock import Clock
from core.errors import RebillError
from core.xero_api import xero_client
from core.xero_settings import Choices, choices_from, load_settings, update
from handlers import xero_views as views
from handlers.base import Call, listener
from handlers.blocks import esc
from handlers.fields import submitted
from handlers.invoice_modal import invoice_modal
from handlers.invoice_views import notice
from integrations.xero_auth import XeroConfig, XeroError, load_xero_config

# The slow parts: plain functions, no Slack.


def read_choices(engine: Engine, clock: Clock) -> Choices:
    config = _config()
    with xero_client(engine=engine, config=config, clock=clock) as client:
        return choices_from(client.accounts(), client.tax_rates())


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    message: str


def push_invoice_now(engine: Engine, clock: Clock, invoice_id: int) -> PushOutcome:
    """Push one invoice to Xero now; a sentence for the person who pressed the button."""
    from core import xero_sync

    try:
        with xero_client(engine=engine, config=_config(), clock=clock) as client:
            report = xero_sync.push(engine, client, clock=clock, refs=[str(invoice_id)])
    except RebillError as exc:
        return PushOutcome(False, f"Not pushed: {exc.user_message}")
    if report.pushed:
        return PushOutcome(True, f"{report.pushed[0]} is in Xero.")
    problems = {**report.failed, **report.exceptions}
    if problems:
        number, reason = next(iter(problems.items()))
        return PushOutcome(False, f"{number} not pushed: {reason}")
    return PushOutcome(True, "Already in Xero, or being pushed by someone else right now.")


def _config() -> XeroConfig:
    config = load_xero_config()
    if config is None:
        raise XeroError("Xero is not set up: set XERO_CLIENT_ID (and XERO_CLIENT_SECRET); see README, Xero.")
    return config


# Listeners


def open_settings(call: Call) -> None:
    call.ack()
    opened = call.client.views_push(trigger_id=call.body["trigger_id"], view=views.loading_modal())
    view_id = (opened.get("view") or {}).get("id")
    call.later(lambda later: _fill_settings(later, view_id), writes=False)  # Xero's lists: slow


def _fill_settings(call: Call, view_id: str | None) -> None:
    try:
        choices = read_choices(call.deps.engine, call.deps.clock)
        view = views.settings_modal(load_settings(call.db), choices)
    except RebillError as exc:
        view = notice(f":warning: {exc.user_message}")
    call.client.views_update(view_id=view_id, view=view)


def save_settings(call: Call) -> None:
    values = submitted(call.body["view"])
    update(call.db, values, choices=None, actor=call.user_id, clock=call.deps.clock)
    call.ack()


def push_button(call: Call) -> None:
    call.ack()
    call.later(_push_now)


def _push_now(call: Call) -> None:
    """After the ack, on the slow pool: push, then redraw the invoice view (its Xero line says
    how it went) and, when it was refused, say why on top."""
    invoice_id = int(call.body["actions"][0]["value"])
    outcome = push_invoice_now(call.deps.engine, call.deps.clock, invoice_id)
    view = call.body.get("view") or {}
    call.db.expire_all()  # the push wrote through its own sessions
    if view.get("id"):
        call.client.views_update(
            view_id=view["id"], view=invoice_modal(call, invoices.get(db=call.db, invoice_id=invoice_id))
        )
    if not outcome.ok:  # a refusal before anything reached Xero (no account code...) is quick
        call.client.views_push(
            trigger_id=call.body["trigger_id"], view=notice(f":warning: {esc(outcome.message)}")
        )


def register(app: App) -> None:
    app.action(views.Ids.OPEN_SETTINGS)(listener(open_settings))
    app.view(views.Ids.SETTINGS_FORM)(listener(save_settings))
    app.action(views.Ids.PUSH)(listener(push_button))
