"""The App Home tab: the team's dashboard."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from core import billing_settings, customers, dashboard
from core.money import format_money
from handlers import blocks
from handlers.base import Call, listener
from handlers.blocks import esc
from handlers.customer_views import Ids as CustomerIds
from handlers.setup_prompt import configure_prompt
from handlers.xero_blocks import home_text

HOME_MISSING_LIMIT = 15


def home_view(call: Call) -> dict[str, Any]:
    row = billing_settings.load(call.db)
    if billing_settings.missing(row):
        return {"type": "home", "blocks": [blocks.header("Welcome to rebill-bot"), *configure_prompt()]}
    active, without_email = customers.count_active(call.db)
    out: list[blocks.Block] = [
        blocks.header(f"rebill-bot for {row.business_name}"),
        blocks.section(f"*{active}* active end customers  ·  *{without_email}* without an e-mail address"),
        blocks.actions(
            blocks.button("New customer", CustomerIds.NEW, style="primary"), block_id="home_actions"
        ),
        blocks.context("`/rebill customers` lists them; `/rebill help` shows every command."),
    ]
    if without_email:
        out.append(blocks.divider())
        out.append(blocks.section(":warning: *Missing an e-mail address: their invoices can't be sent*"))
        for customer in customers.missing_email(call.db, limit=HOME_MISSING_LIMIT):
            out.append(
                blocks.section(
                    esc(customer.company_name),
                    accessory=blocks.button("Add e-mail", CustomerIds.ADD_EMAIL, value=str(customer.id)),
                )
            )
        if without_email > HOME_MISSING_LIMIT:
            out.append(blocks.context(f"…and {without_email - HOME_MISSING_LIMIT} more."))
    figures = dashboard.invoice_figures(call.db, today=call.today)
    out.append(blocks.divider())
    out.append(
        blocks.section(
            f"*Invoices*\n{figures.drafts} draft · {figures.to_send} approved, not yet sent · "
            f"{figures.outstanding} unpaid ({format_money(figures.outstanding_total, row.currency)})"
            + (
                f"\n:alarm_clock: *{figures.overdue} overdue* ({format_money(figures.overdue_total, row.currency)})"
                if figures.overdue
                else ""
            ),
            block_id="home_invoices",
        )
    )
    out.append(
        blocks.context("`/rebill invoices overdue` lists them; `/rebill billrun` previews next month's run.")
    )
    out.append(blocks.context(home_text(call.db)))
    return {"type": "home", "blocks": out[:100]}


def publish_home(call: Call, user_id: str) -> None:
    call.client.views_publish(user_id=user_id, view=home_view(call))


def home_opened(call: Call) -> None:
    event = call.body.get("event") or {}
    if event.get("tab") not in (None, "home"):
        return
    publish_home(call, event.get("user") or call.user_id)


def register(app: App) -> None:
    app.event("app_home_opened")(listener(home_opened))
