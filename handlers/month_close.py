"""Listeners for the month close: Run (from the bill-run preview), and the report's buttons:
Approve, Hold, Send all approved, Send again / It was sent (delivery uncertain).

Each listener acks, then calls one plain function that does the slow part (`close_and_report`,
`send_all_approved`): those are what a bounded worker pool runs, and the same functions the
scheduler and the CLI use underneath (`core.month_close`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from core import billing_settings, month_close
from core import invoices as invoice_service
from core.calculation import Period
from core.clock import BusinessClock
from core.db import session_scope
from core.delivery import mark_sent, send_invoice
from core.errors import RebillError
from core.month_close import CloseReport
from handlers import close_report, close_views
from handlers.base import Call, listener
from handlers.blocks import esc, md
from handlers.close_ids import CloseIds
from handlers.config import Settings
from handlers.invoice_modal import invoice_modal
from handlers.invoice_views import Ids, billrun_summary_text
from handlers.poster import Poster
from models.invoices import Invoice


@dataclass(frozen=True)
class Work:
    """What the slow part needs, and nothing of the request: safe to hand to another thread."""

    engine: Engine
    settings: Settings
    client: WebClient
    clock: BusinessClock
    psa_configured: bool


def _work(call: Call) -> Work:
    from integrations.config import load_psa_settings

    try:
        psa = load_psa_settings().rebill_psa is not None
    except Exception:  # a PSA misconfiguration must not stop a month close; the check is skipped
        psa = False
    return Work(call.deps.engine, call.settings, call.client, call.deps.clock, psa)


def _channel(engine: Engine) -> str | None:
    with session_scope(engine) as db:
        return billing_settings.load(db).alert_channel_id


def close_and_report(
    work: Work, period: Period, *, actor: str, include_old_catch_up: bool = False
) -> tuple[CloseReport, str | None]:
    """The slow part of Run: close the month, post (or complete) its report; the report's ts."""
    report = month_close.close_month(
        engine=work.engine,
        period=period,
        actor=actor,
        include_old_catch_up=include_old_catch_up,
        clock=work.clock,
        smtp=work.settings.smtp,
        psa_configured=work.psa_configured,
        templates_dir=work.settings.rebill_templates_dir,
    )
    channel = _channel(work.engine)
    if channel is None or not report.entries or not report.finished:
        return report, None
    slack = close_report.Slack(work.engine, work.clock, work.client, Poster(work.client), channel)
    return report, close_report.publish(slack, report).report_ts


def refresh_report(work: Work, period: str, *, invoice_ids: set[int] | None = None) -> None:
    """Redraw the period's report, and the thread messages showing `invoice_ids` (None: all),
    from what is stored now, so every button on screen matches the invoice's state."""
    channel, ts = close_report.report_ts(work.engine, period)
    if channel is None or ts is None:
        return
    report = month_close.build_report(
        work.engine,
        period,
        clock=work.clock,
        psa_configured=work.psa_configured,
    )
    text, blocks = close_views.report_message(report)
    work.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
    order = {e.invoice_id: n for n, e in enumerate(report.entries, start=1)}
    by_id = {e.invoice_id: e for e in report.entries}
    for message_ts, ids in close_report.thread_messages(work.engine, period).items():
        if invoice_ids is not None and not invoice_ids & set(ids):
            continue
        shown = [by_id[i] for i in sorted(ids, key=lambda i: order.get(i, 0)) if i in by_id]
        if shown:
            text, blocks = close_views.thread_message(shown, first=order[shown[0].invoice_id], of=len(order))
            work.client.chat_update(channel=channel, ts=message_ts, text=text, blocks=blocks)


def _say_in_thread(work: Work, period: str, text: str) -> None:
    channel, ts = close_report.report_ts(work.engine, period)
    if channel and ts:
        work.client.chat_postMessage(channel=channel, thread_ts=ts, text=text)


def run(call: Call) -> None:
    """The Run button under a bill-run preview: the whole month close, as the scheduler does it."""
    call.ack()
    period = Period.parse(call.body["actions"][0]["value"])
    call.respond(replace_original=True, text=f":hourglass_flowing_sand: Closing {period}…")
    call.later(_run)


def _run(call: Call) -> None:
    action = call.body["actions"][0]
    period = Period.parse(action["value"])
    include_old = action.get("action_id") == Ids.BILLRUN_RUN_OLD  # "Run, with older catch-up"
    try:
        report, ts = close_and_report(
            _work(call), period, actor=call.user_id, include_old_catch_up=include_old
        )
    except RebillError as exc:
        call.respond(replace_original=True, text=md(":warning: {}", exc.user_message))
        return
    where = " The report is in the alerts channel." if ts else " (No alerts channel set: /rebill settings.)"
    billed = billrun_summary_text(report.billed, currency=report.currency) + "\n" if report.billed else ""
    call.respond(replace_original=True, text=billed + close_views.summary_text(report) + "." + where)


def _invoice_id(call: Call) -> int:
    return int(call.body["actions"][0]["value"])


def approve(call: Call) -> None:
    call.ack()
    call.later(lambda later: _decide(later, month_close.approve, ":white_check_mark:", "approved"))


def hold(call: Call) -> None:
    call.ack()
    call.later(lambda later: _decide(later, month_close.hold, ":double_vertical_bar:", "held"))


def _decide(call: Call, decide: Callable[..., Invoice], icon: str, done: str) -> None:
    """Approve or Hold (after the ack): record it, redraw the report, say who did it in the thread."""
    work = _work(call)
    invoice = decide(engine=work.engine, invoice_id=_invoice_id(call), actor=call.user_id, clock=work.clock)
    refresh_report(work, invoice.period, invoice_ids={invoice.id or 0})
    _say_in_thread(work, invoice.period, f"{icon} {esc(invoice.number)} {done} by <@{call.user_id}>.")


def send_all_approved(work: Work, period: str, *, actor: str) -> str:
    """The slow part of Send all: e-mail the approved ones, redraw the report, say what happened."""
    if work.settings.smtp is None:
        raise RebillError(
            "E-mail is not configured: set SMTP_HOST and REBILL_FROM_EMAIL, then restart rebill-bot."
        )
    results = month_close.send_approved(
        engine=work.engine,
        period=period,
        actor=actor,
        clock=work.clock,
        smtp=work.settings.smtp,
        templates_dir=work.settings.rebill_templates_dir,
    )
    held = month_close.held_count(work.engine, period)
    sent = sum(1 for r in results if r.ok)
    refresh_report(work, period)
    text = f"<@{actor}> sent all approved: {sent} e-mailed, {len(results) - sent} not sent, {held} held."
    _say_in_thread(work, period, text)
    return text


def send_all(call: Call) -> None:
    call.ack()
    call.later(
        lambda later: send_all_approved(_work(later), later.body["actions"][0]["value"], actor=later.user_id)
    )


def _redraw_invoice(call: Call, invoice_id: int) -> None:
    """When the click came from the invoice view, show the invoice as it is now."""
    view = call.body.get("view") or {}
    if view.get("type") == "modal" and view.get("id"):
        fresh = invoice_service.get(db=call.db, invoice_id=invoice_id)
        call.client.views_update(view_id=view["id"], view=invoice_modal(call, fresh))


def send_again(call: Call) -> None:
    """Delivery uncertain → a person checked the mail log and wants it sent (the dead claim is replaced)."""
    call.ack()
    call.later(_send_again)


def _send_again(call: Call) -> None:
    work = _work(call)
    if work.settings.smtp is None:
        raise RebillError(
            "E-mail is not configured: set SMTP_HOST and REBILL_FROM_EMAIL, then restart rebill-bot."
        )
    result = send_invoice(
        engine=work.engine,
        smtp=work.settings.smtp,
        invoice_ref=_invoice_id(call),
        actor=call.user_id,
        clock=work.clock,
        takeover=True,
        templates_dir=work.settings.rebill_templates_dir,
    )
    # Short sessions of its own: on SQLite the request's session would hold the write lock.
    with session_scope(work.engine, write=False) as db:
        period = invoice_service.get(db=db, invoice_id=_invoice_id(call)).period
    refresh_report(work, period, invoice_ids={_invoice_id(call)})
    icon = ":white_check_mark:" if result.ok else ":warning:"
    _say_in_thread(work, period, f"{icon} {esc(result.message)} (<@{call.user_id}>)")
    _redraw_invoice(call, _invoice_id(call))


def was_sent(call: Call) -> None:
    """Delivery uncertain → a person found it in the mail log: record it as sent, send nothing."""
    call.ack()
    call.later(_was_sent)


def _was_sent(call: Call) -> None:
    work = _work(call)
    invoice = mark_sent(
        engine=work.engine, invoice_ref=_invoice_id(call), actor=call.user_id, clock=work.clock
    )
    refresh_report(work, invoice.period, invoice_ids={invoice.id or 0})
    _say_in_thread(
        work,
        invoice.period,
        f":white_check_mark: {esc(invoice.number)} recorded as sent by <@{call.user_id}>.",
    )
    _redraw_invoice(call, invoice.id or 0)


def register(app: App) -> None:
    app.action(CloseIds.APPROVE)(listener(approve))
    app.action(CloseIds.HOLD)(listener(hold))
    app.action(CloseIds.SEND_ALL)(listener(send_all))
    app.action(CloseIds.SEND_AGAIN)(listener(send_again))
    app.action(CloseIds.WAS_SENT)(listener(was_sent))
