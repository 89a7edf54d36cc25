"""First-time configuration and `/rebill settings`: one modal for the global billing basics."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from slack_bolt import App
from slack_sdk.webhook import WebhookClient

from core import billing_settings, customers
from handlers import blocks
from handlers.base import Call, listener
from handlers.commands import subcommand
from handlers.fields import encode_metadata, metadata, modal, submitted, text_input
from models.system import BillingSettings


class Ids(StrEnum):
    OPEN = "setup_open"
    FORM = "setup_form"


def settings_modal(row: BillingSettings, *, first_time: bool, origin: dict[str, Any]) -> dict[str, Any]:
    missing = set(billing_settings.missing(row))

    def label(field: str, text: str) -> str:
        return f"⚠ {text}" if first_time and field in missing else text

    out: list[blocks.Block] = []
    if first_time:
        needed = ", ".join(billing_settings.REQUIRED[f] for f in billing_settings.REQUIRED if f in missing)
        out.append(blocks.section("Welcome! Set these once and you'll land on your list of end customers."))
        out.append(blocks.context(f":warning: Still needed: *{needed}*"))
    out += [
        text_input(
            "business_name",
            label("business_name", "Your business name"),
            initial=row.business_name,
            optional=False,
            max_length=100,
        ),
        text_input(
            "default_payment_terms_days",
            label("default_payment_terms_days", "Default payment terms (days)"),
            initial=row.default_payment_terms_days,
            optional=False,
            hint="Days from the invoice date to the due date, unless a customer overrides it.",
            max_length=3,
        ),
        text_input(
            "invoice_prefix",
            label("invoice_prefix", "Invoice prefix"),
            initial=row.invoice_prefix,
            optional=False,
            placeholder="INV-",
            max_length=20,
        ),
        text_input(
            "invoice_start_number",
            label("invoice_start_number", "Starting invoice number"),
            initial=row.invoice_start_number or (1 if first_time else None),
            optional=False,
            hint="The first invoice gets this number, e.g. INV-00001.",
            max_length=9,
        ),
    ]
    return modal(
        callback_id=Ids.FORM,
        title="Configure rebilling" if first_time else "Billing settings",
        submit="Save",
        blocks=out,
        private_metadata=encode_metadata(**origin),
    )


def configure_prompt() -> list[blocks.Block]:
    return [
        blocks.section(
            "*rebill-bot isn't configured yet.* Save your business name, default payment terms and "
            "invoice numbering first; then you'll see your end customers here."
        ),
        blocks.actions(blocks.button("Configure rebilling", Ids.OPEN, style="primary")),
    ]


def ensure_configured(call: Call) -> bool:
    """Answer with the set-up prompt (and return False) until the basics are saved."""
    if billing_settings.is_configured(call.db):
        return True
    from handlers.commands import help_blocks

    call.ack(
        response_type="ephemeral",
        text="rebill-bot isn't configured yet.",
        blocks=configure_prompt() + help_blocks(),
    )
    return False


@subcommand("settings", usage="settings", summary="edit the global billing settings")
def settings_command(call: Call, args: str) -> None:
    row = billing_settings.load(call.db)
    first_time = bool(billing_settings.missing(row))
    call.ack()
    origin = {"response_url": call.body.get("response_url")}
    call.client.views_open(
        trigger_id=call.body["trigger_id"], view=settings_modal(row, first_time=first_time, origin=origin)
    )


def open_setup(call: Call) -> None:
    call.ack()
    row = billing_settings.load(call.db)
    origin = {
        "response_url": call.body.get("response_url"),
        "home": int((call.body.get("view") or {}).get("type") == "home") or None,
    }
    call.client.views_open(
        trigger_id=call.body["trigger_id"],
        view=settings_modal(row, first_time=bool(billing_settings.missing(row)), origin=origin),
    )


def save_setup(call: Call) -> None:
    view = call.body["view"]
    basics = billing_settings.validate_basics(submitted(view))
    billing_settings.save_basics(call.db, basics, actor=call.user_id, clock=call.deps.clock)
    call.ack()
    origin = metadata(view)
    # "Once configured, you land on the list of your end customers."
    from handlers.customer_views import list_blocks

    page = customers.list_page(call.db)
    list_view = list_blocks(page, text="", default_days=basics.default_payment_terms_days)
    if origin.get("response_url"):
        WebhookClient(origin["response_url"]).send(
            text="Rebilling is configured. Your end customers:",
            blocks=list_view,
            response_type="ephemeral",
            replace_original=True,
        )
    if origin.get("home"):
        from handlers.home import publish_home

        publish_home(call, call.user_id)


def register(app: App) -> None:
    app.action(Ids.OPEN)(listener(open_setup))
    app.view(Ids.FORM)(listener(save_setup))
