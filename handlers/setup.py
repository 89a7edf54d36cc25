"""First-time configuration and `/rebill settings`: one modal for the global billing basics."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk.webhook import WebhookClient

from core import billing_settings, customers
from handlers import blocks
from handlers.base import Call, listener
from handlers.customer_views import list_blocks
from handlers.fields import (
    INPUT_ACTION,
    encode_metadata,
    metadata,
    modal,
    option,
    select_input,
    submitted,
    text_input,
)
from handlers.home import publish_home
from handlers.setup_prompt import Ids
from handlers.subcommands import subcommand
from handlers.xero_blocks import settings_blocks
from models.system import BillingSettings


def settings_modal(
    row: BillingSettings, *, first_time: bool, origin: dict[str, Any], next_number: int | None = None
) -> dict[str, Any]:
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
            max_length=billing_settings.text_limit("business_name"),
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
            max_length=billing_settings.text_limit("invoice_prefix"),
        ),
        text_input(
            "invoice_start_number",
            label("invoice_start_number", "Starting invoice number" if first_time else "Next invoice number"),
            initial=next_number,
            optional=False,
            hint="The next invoice gets your prefix and this number, e.g. INV-00001. It can't go back "
            "below a number already used.",
            max_length=9,
        ),
    ]
    if not first_time:
        out += more_settings_blocks(row)
    return modal(
        callback_id=Ids.FORM,
        title="Configure rebilling" if first_time else "Billing settings",
        submit="Save",
        blocks=out,
        private_metadata=encode_metadata(**origin),
    )


def more_settings_blocks(row: BillingSettings) -> list[blocks.Block]:
    """Everything past the basics; shown by `/rebill settings` once set-up is done."""
    rate = f"{(row.tax_rate * 100).normalize():f}"
    flags = [
        ("Approve new invoices automatically", "auto_approve"),
        ("E-mail approved invoices automatically", "auto_send"),
        ("E-mail payment reminders (4 days before due; 1, 7 and 14 days after)", "reminders"),
        ("Four eyes: whoever runs the month close can't approve its invoices", "four_eyes"),
    ]
    chosen = {
        "auto_approve": row.auto_approve,
        "auto_send": row.auto_send,
        "reminders": row.reminders_enabled,
        "four_eyes": row.four_eyes,
    }
    options = [option(text, value) for text, value in flags]
    checkboxes: dict[str, Any] = {"type": "checkboxes", "action_id": INPUT_ACTION, "options": options}
    initial = [o for o in options if chosen[o["value"]]]
    if initial:
        checkboxes["initial_options"] = initial
    channel: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": INPUT_ACTION,
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        "placeholder": blocks.plain("Choose the alerts channel"),
    }
    if row.alert_channel_id:
        channel["initial_conversation"] = row.alert_channel_id
    digest = {"type": "timepicker", "action_id": INPUT_ACTION, "initial_time": row.missing_email_digest_time}
    return [
        blocks.header("Invoices"),
        text_input("abn", "ABN", initial=row.abn, max_length=billing_settings.text_limit("abn")),
        text_input(
            "business_address",
            "Business address",
            initial=row.business_address,
            multiline=True,
            max_length=billing_settings.text_limit("business_address"),
        ),
        text_input(
            "business_email",
            "Business e-mail",
            initial=row.business_email,
            max_length=billing_settings.text_limit("business_email"),
        ),
        text_input(
            "business_phone",
            "Business phone",
            initial=row.business_phone,
            max_length=billing_settings.text_limit("business_phone"),
        ),
        text_input(
            "payment_instructions",
            "Payment instructions",
            initial=row.payment_instructions,
            multiline=True,
            hint="Printed on every invoice, e.g. BSB and account number.",
            max_length=billing_settings.text_limit("payment_instructions"),
        ),
        text_input(
            "logo_path",
            "Logo file (path on the server)",
            initial=row.logo_path,
            max_length=billing_settings.text_limit("logo_path"),
        ),
        text_input("tax_rate", "GST rate (%)", initial=rate, optional=False, max_length=6),
        text_input(
            "currency",
            "Currency",
            initial=row.currency,
            optional=False,
            max_length=billing_settings.text_limit("currency"),
        ),
        select_input(
            "billing_mode",
            "Bill recurring charges",
            [("In advance", "advance"), ("In arrears", "arrears")],
            initial=row.billing_mode,
        ),
        *margin_settings_blocks(row),  # issue-16
        *ledger_settings_blocks(row),  # issue-12
        blocks.header("Schedule and alerts"),
        {
            "type": "input",
            "block_id": "alert_channel_id",
            "label": blocks.plain("Alerts channel"),
            "element": channel,
            "optional": True,
            "hint": blocks.plain("Invite @rebill-bot to it."),
        },
        text_input(
            "bill_run_day",
            "Bill-run day of the month (1-28)",
            initial=row.bill_run_day,
            optional=False,
            max_length=2,
        ),
        text_input(
            "bill_run_hour", "Bill-run hour (0-23)", initial=row.bill_run_hour, optional=False, max_length=2
        ),
        {
            "type": "input",
            "block_id": "missing_email_digest_time",
            "label": blocks.plain("Missing e-mail digest at"),
            "element": digest,
            "optional": False,
        },
        {
            "type": "input",
            "block_id": "options",
            "label": blocks.plain("Automation"),
            "element": checkboxes,
            "optional": True,
        },
        text_input(
            "change_threshold_pct",
            "Month close: flag a total that changed by more than (%)",
            initial=row.change_threshold_pct,
            optional=False,
            max_length=2,
        ),
    ]


def margin_settings_blocks(row: BillingSettings) -> list[blocks.Block]:
    """Default margin and margin floor (percent on cost): internal, never shown to customers."""

    def shown(value: Any) -> str | None:
        return None if value is None else f"{value.normalize():f}"

    return [
        text_input(
            "default_margin_percent",
            "Default margin (% on cost)",
            initial=shown(row.default_margin_percent),
            max_length=7,
            hint="Prices a charge or usage row given a cost and no price; a service may override it.",
        ),
        text_input(
            "margin_floor_percent",
            "Margin floor (%)",
            initial=shown(row.margin_floor_percent),
            max_length=7,
            hint="A customer's service earning less is flagged in the margins report.",
        ),
    ]


def ledger_settings_blocks(row: BillingSettings) -> list[blocks.Block]:
    """The credit-note series and how far back catch-up goes on its own."""
    return [
        text_input(
            "credit_note_prefix",
            "Credit-note prefix",
            initial=row.credit_note_prefix,
            optional=False,
            placeholder="CN-",
            max_length=billing_settings.text_limit("credit_note_prefix"),
            hint="Credit notes are numbered in their own series, e.g. CN-00001. A new prefix starts its "
            "own series; a prefix used before carries on where it stopped.",
        ),
        text_input(
            "back_billing_months",
            "Back-billing horizon (months, 0-24)",
            initial=row.back_billing_months,
            optional=False,
            max_length=2,
            hint="Catch-up older than this many months is held for a decision, not billed on its own. "
            "0 holds all catch-up for a decision.",
        ),
    ]


@subcommand("settings", usage="settings", summary="edit the global billing settings")
def settings_command(call: Call, args: str) -> None:
    call.ack()
    open_settings(call, {"response_url": call.body.get("response_url")})


def open_setup(call: Call) -> None:
    call.ack()
    in_home = (call.body.get("view") or {}).get("type") == "home"
    open_settings(call, {"response_url": call.body.get("response_url"), "home": 1 if in_home else None})


def open_settings(call: Call, origin: dict[str, Any]) -> None:
    """The first-time modal until the basics are saved, the full settings after."""
    row = billing_settings.load(call.db)
    first_time = bool(billing_settings.missing(row))
    shown = 1 if first_time else billing_settings.next_sequence(call.db, row)
    view = settings_modal(row, first_time=first_time, origin=origin, next_number=shown)
    if not first_time:
        view["blocks"] = (view["blocks"] + settings_blocks(call.db))[:100]
    call.client.views_open(trigger_id=call.body["trigger_id"], view=view)


def save_setup(call: Call) -> None:
    view = call.body["view"]
    basics, more = billing_settings.validate_form(submitted(view))
    first_time = not billing_settings.is_configured(call.db)
    billing_settings.save_all(call.db, basics, more, actor=call.user_id, clock=call.deps.clock)
    call.ack()
    origin = metadata(view)
    if origin.get("response_url"):
        if first_time:  # "Once configured, you land on the list of your end customers."
            page = customers.list_page(call.db)
            WebhookClient(origin["response_url"]).send(
                text="Rebilling is configured. Your end customers:",
                blocks=list_blocks(page, text="", default_days=basics.default_payment_terms_days),
                response_type="ephemeral",
                replace_original=True,
            )
        else:
            WebhookClient(origin["response_url"]).send(
                text=":white_check_mark: Billing settings saved.",
                response_type="ephemeral",
                replace_original=False,
            )
    if origin.get("home"):
        publish_home(call, call.user_id)


def register(app: App) -> None:
    app.action(Ids.OPEN)(listener(open_setup))
    app.view(Ids.FORM)(listener(save_setup))
