"""Listeners for invoices: open, PDF, approve, regenerate, void, reissue, mark paid, credit; lists; bill run."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from core import billing_settings, credit_notes
from core import invoices as invoice_service
from core.billrun import period_to_bill, preview_bill
from core.calculation import FIRST_YEAR, LAST_YEAR, Period
from core.delivery import NoEmail, SendResult, send_invoice
from core.errors import FieldErrors, NotAllowed, RebillError
from core.invoices import FILTERS
from core.rendering import environment, invoice_pdf
from core.workpool import interactive_timeout
from handlers import invoice_views as views
from handlers import month_close
from handlers.base import Call, listener
from handlers.blocks import md, mention
from handlers.fields import metadata
from handlers.invoice_modal import invoice_modal
from handlers.invoice_views import Ids
from handlers.setup_prompt import ensure_configured
from handlers.subcommands import subcommand


def _invoice_id(call: Call) -> int:
    return int(call.body["actions"][0]["value"].partition(":")[0])


def _show(call: Call, view: dict[str, Any]) -> None:
    """Open the invoice over whatever the user is looking at (a customer modal, a list, the home tab)."""
    container = call.body.get("view") or {}
    if container.get("type") == "modal" and container.get("callback_id") != views.Ids.VIEW:
        call.client.views_push(trigger_id=call.body["trigger_id"], view=view)
    elif container.get("callback_id") == views.Ids.VIEW:
        call.client.views_update(view_id=container["id"], view=view)
    else:
        call.client.views_open(trigger_id=call.body["trigger_id"], view=view)


def open_invoice(call: Call) -> None:
    call.ack()
    _show(call, invoice_modal(call, invoice_service.get(db=call.db, invoice_id=_invoice_id(call))))


def _change(call: Call, change: Any) -> None:
    """Apply a life-cycle change, then redraw the invoice modal in place."""
    call.ack()
    invoice = change(db=call.db, ref=_invoice_id(call), actor=call.user_id, clock=call.deps.clock)
    view = call.body.get("view") or {}
    if view.get("id"):
        call.client.views_update(view_id=view["id"], view=invoice_modal(call, invoice))


def approve(call: Call) -> None:
    _change(call, invoice_service.approve)


def regenerate(call: Call) -> None:
    _change(call, invoice_service.regenerate)


def void(call: Call) -> None:
    _change(call, invoice_service.void)


def reissue(call: Call) -> None:
    _change(call, invoice_service.reissue)


def mark_paid(call: Call) -> None:
    _change(call, invoice_service.mark_paid)


def send(call: Call) -> None:
    """E-mail the invoice; explain (and offer Add e-mail) when it can't go, show SMTP errors inline."""
    call.ack()
    call.later(_send)


def _send(call: Call) -> None:
    invoice_id = _invoice_id(call)
    view = call.body.get("view") or {}
    try:
        result = deliver(call, invoice_id, resend=call.body["actions"][0]["value"].endswith(":resend"))
    except NoEmail as refusal:
        call.client.views_push(
            trigger_id=call.body["trigger_id"],
            view=views.no_email_modal(refusal.user_message, refusal.customer_id),
        )
        return
    if view.get("id"):
        call.client.views_update(
            view_id=view["id"],
            view=invoice_modal(call, invoice_service.get(db=call.db, invoice_id=invoice_id)),
        )
    if not result.ok:
        call.client.views_push(
            trigger_id=call.body["trigger_id"], view=views.notice(f":warning: {result.message}")
        )


def open_credit(call: Call) -> None:
    call.ack()
    invoice = invoice_service.get(db=call.db, invoice_id=_invoice_id(call))
    assert invoice.id is not None
    lines = invoice_service.lines_of(db=call.db, invoice_id=invoice.id)
    call.client.views_push(trigger_id=call.body["trigger_id"], view=views.credit_form(invoice, lines))


def credit_submitted(call: Call) -> None:
    """Issue the credit note, then show it in place of the form (refusals become a modal error)."""
    view = call.body["view"]
    origin, form = metadata(view), views.parse_credit_form(view)
    try:
        done = credit_notes.credit(
            db=call.db,
            ref=int(origin["invoice_id"]),
            actor=call.user_id,
            clock=call.deps.clock,
            positions=list(form.positions) or None,
            reason=form.reason,
            today=call.today,
        )
    except NotAllowed as refusal:  # shown on the form, which stays open
        raise FieldErrors({"lines": refusal.user_message}) from None
    call.ack(response_action="update", view=invoice_modal(call, done.credit_note))


def deliver(call: Call, ref: int | str, *, resend: bool = False) -> SendResult:
    """send_invoice with this app's SMTP settings; the request's own session stays unused meanwhile."""
    smtp = call.settings.smtp
    if smtp is None:
        raise RebillError(
            "E-mail is not configured: set SMTP_HOST and REBILL_FROM_EMAIL, then restart rebill-bot."
        )
    return send_invoice(
        engine=call.deps.engine,
        smtp=replace(smtp, timeout=interactive_timeout(smtp.timeout)),
        invoice_ref=ref,
        actor=call.user_id,
        clock=call.deps.clock,
        resend=resend,
        templates_dir=call.settings.rebill_templates_dir,
    )


def upload_pdf(
    client: WebClient,
    *,
    user_id: str,
    filename: str,
    content: bytes,
    title: str,
    channel: str | None = None,
    thread_ts: str | None = None,
) -> None:
    """Files upload v2 into the given channel/thread, else the user's DM with the bot."""
    if channel is None:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
    client.files_upload_v2(
        channel=channel,
        thread_ts=thread_ts,
        content=content,
        filename=filename,
        title=title,
        initial_comment=md("{}, as requested by {}.", title, mention(user_id)),
    )


def download_pdf(call: Call) -> None:
    call.ack()
    call.later(_upload_pdf)


def _upload_pdf(call: Call) -> None:
    invoice = invoice_service.get(db=call.db, invoice_id=_invoice_id(call))
    env = environment(call.settings.rebill_templates_dir, timezone=call.deps.clock.timezone)
    content = invoice_pdf(db=call.db, invoice=invoice, env=env)
    message = call.body.get("container") or {}
    channel = call.body.get("channel", {}).get("id") if message.get("type") == "message" else None
    thread = message.get("thread_ts") or message.get("message_ts") if channel else None
    upload_pdf(
        call.client,
        user_id=call.user_id,
        filename=f"{invoice.number}.pdf",
        content=content,
        title=f"Invoice {invoice.number} ({invoice.customer_name})",
        channel=channel,
        thread_ts=thread,
    )


@subcommand(
    "invoices",
    usage="invoices [draft|approved|sent|overdue|paid|void]",
    summary="list invoices across customers",
    reads_only=True,
)
def list_command(call: Call, args: str) -> None:
    if not ensure_configured(call):
        return
    status = args.split()[0].lower() if args.split() else None
    if status is not None and status not in FILTERS:
        call.ack(
            response_type="ephemeral",
            text=md("Unknown status `{}`: use one of {}.", status, ", ".join(FILTERS)),
        )
        return
    # A page and a count, not every invoice ever issued, on the ack path.
    found = invoice_service.list_invoices(
        db=call.db, status=status, today=call.today, limit=views.LIST_ROWS, newest_first=True
    )
    total = invoice_service.count_invoices(db=call.db, status=status, today=call.today)
    call.ack(
        response_type="ephemeral",
        text=f"{total} invoices",
        blocks=views.list_blocks(found, status=status, today=call.today, total=total),
    )


def _period(call: Call, args: str) -> Period | None:
    text = args.strip()
    if not text:
        return period_to_bill(db=call.db, today=call.today)
    try:
        return Period.parse(text)
    except ValueError:
        call.ack(
            response_type="ephemeral",
            text=md(
                "`{}` is not a month you can bill: use YYYY-MM from {} to {}, e.g. `/rebill billrun 2026-12`.",
                text,
                FIRST_YEAR,
                LAST_YEAR,
            ),
        )
        return None


@subcommand(
    "billrun",
    usage="billrun [YYYY-MM]",
    summary="preview the bill run for a month (default: next month), then run it",
    reads_only=True,  # the preview reads; the run is its own button
)
def billrun_command(call: Call, args: str) -> None:
    if not ensure_configured(call):
        return
    period = _period(call, args)
    if period is None:
        return
    # Working out every customer's invoice can take longer than Slack's 3 s: ack first.
    call.ack(
        response_type="ephemeral", text=f":hourglass_flowing_sand: Working out the bill run for {period}…"
    )

    def preview(call: Call) -> None:
        found = preview_bill(db=call.db, period=period)
        call.respond(
            replace_original=True,
            text=f"Bill run for {period}",
            blocks=views.billrun_preview_blocks(found, currency=billing_settings.currency(call.db)),
        )

    call.later(preview, writes=False)


def register(app: App) -> None:
    app.action(Ids.OPEN)(listener(open_invoice))
    app.action(Ids.PDF)(listener(download_pdf))
    app.action(Ids.APPROVE)(listener(approve))
    app.action(Ids.REGENERATE)(listener(regenerate))
    app.action(Ids.VOID)(listener(void))
    app.action(Ids.REISSUE)(listener(reissue))
    app.action(Ids.PAID)(listener(mark_paid))
    # Run closes the month (core.month_close), the same use case as the scheduler and `rebill-bot close`;
    # "Run, with older catch-up" also bills unbilled days beyond the back-billing horizon.
    app.action(Ids.BILLRUN_RUN)(listener(month_close.run))
    app.action(Ids.BILLRUN_RUN_OLD)(listener(month_close.run))
    app.action(Ids.CREDIT)(listener(open_credit))
    app.view(Ids.FORM_CREDIT)(listener(credit_submitted))
    app.action(Ids.SEND)(listener(send))
