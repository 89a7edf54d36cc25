"""Listeners for the buttons on channel alerts: Send all, Review, and per-invoice Send / View PDF."""

from __future__ import annotations

from dataclasses import replace

from slack_bolt import App

from core import invoices as invoice_service
from core.db import session_scope
from core.delivery import SendOutcome, send_many
from core.errors import RebillError
from core.invoice_states import UNSENT, VOID
from core.workpool import interactive_timeout
from handlers import alert_views, invoice_views
from handlers.alert_views import AlertIds
from handlers.base import Call, listener
from handlers.blocks import esc, md, mention
from handlers.invoices import deliver, download_pdf


def _thread(call: Call) -> tuple[str, str]:
    container = call.body.get("container") or {}
    channel = container.get("channel_id") or (call.body.get("channel") or {}).get("id")
    return channel, container.get("thread_ts") or container.get("message_ts")


def send_all(call: Call) -> None:
    """E-mail every unsent invoice of the period, then redraw the digest with what happened."""
    call.ack()
    call.later(_send_all)


def _send_all(call: Call) -> None:
    period = call.body["actions"][0]["value"]
    smtp = call.settings.smtp
    if smtp is None:
        raise RebillError(
            "E-mail is not configured: set SMTP_HOST and REBILL_FROM_EMAIL, then restart rebill-bot."
        )
    with session_scope(
        call.deps.engine, write=False
    ) as db:  # a short read; each send below claims its own invoice
        todo = [i for i in invoice_service.list_invoices(db=db, period=period) if i.status in UNSENT]
        names = {i.number: i.customer_name for i in todo}
    results = send_many(
        engine=call.deps.engine,
        smtp=replace(smtp, timeout=interactive_timeout(smtp.timeout)),
        refs=list(names),
        actor=call.user_id,
        clock=call.deps.clock,
        templates_dir=call.settings.rebill_templates_dir,
    )
    outcomes = [SendOutcome(r.number, names.get(r.number, ""), r.ok, r.message) for r in results]
    everything = [i for i in invoice_service.list_invoices(db=call.db, period=period) if i.status != VOID]
    text, blocks = alert_views.invoice_ready_digest(period, everything, outcomes=outcomes)
    channel, ts = _thread(call)
    call.client.chat_update(
        channel=channel, ts=call.body["container"]["message_ts"], text=text, blocks=blocks
    )
    sent = sum(1 for o in outcomes if o.ok)
    call.client.chat_postMessage(
        channel=channel,
        thread_ts=ts,
        text=f"{mention(call.user_id)} sent all: {sent} e-mailed, {len(outcomes) - sent} not sent.",
    )


def review(call: Call) -> None:
    call.ack()
    period = call.body["actions"][0]["value"]
    found = invoice_service.list_invoices(db=call.db, period=period)
    call.client.views_open(
        trigger_id=call.body["trigger_id"], view=alert_views.review_modal(period, found, today=call.today)
    )


def send_one(call: Call) -> None:
    """Send from the digest's thread; the outcome is posted in the thread for the team to see."""
    call.ack()
    call.later(_send_one)


def _send_one(call: Call) -> None:
    invoice_id = int(call.body["actions"][0]["value"])
    channel, ts = _thread(call)
    try:
        result = deliver(call, invoice_id)
    except RebillError as refusal:
        customer_id = getattr(refusal, "customer_id", None)
        blocks = [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f":rotating_light: {esc(refusal.user_message)}"},
            }
        ]
        if customer_id is not None:
            blocks[0]["accessory"] = {
                "type": "button",
                "text": {"type": "plain_text", "text": "Add e-mail"},
                "action_id": invoice_views.CustomerIds.ADD_EMAIL,
                "value": str(customer_id),
            }
        call.respond(
            response_type="ephemeral", replace_original=False, text=esc(refusal.user_message), blocks=blocks
        )
        return
    icon = ":white_check_mark:" if result.ok else ":warning:"
    call.client.chat_postMessage(
        channel=channel, thread_ts=ts, text=md("{} {} ({})", icon, result.message, mention(call.user_id))
    )


def register(app: App) -> None:
    app.action(AlertIds.SEND_ALL)(listener(send_all))
    app.action(AlertIds.REVIEW)(listener(review))
    app.action(AlertIds.SEND_ONE)(listener(send_one))
    app.action(AlertIds.PDF_ONE)(listener(download_pdf))
