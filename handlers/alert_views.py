"""Block Kit for channel alerts posted by the scheduler. Pure builders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any

from core.delivery import SendOutcome
from core.money import format_money, format_total
from handlers import blocks
from handlers.blocks import Block, esc
from handlers.customer_views import Ids as CustomerIds
from handlers.fields import modal
from handlers.invoice_views import Ids as InvoiceIds
from handlers.invoice_views import list_blocks
from models.customers import EndCustomer
from models.invoices import Invoice

DIGEST_ROWS = 40  # leaves room in the 50-block message for the header and the overflow line


def missing_email_digest(customers: Sequence[EndCustomer]) -> tuple[str, list[Block]]:
    count = len(customers)
    text = f"{count} end customer{'s' if count != 1 else ''} can't be sent invoices: no e-mail address"
    out: list[Block] = [
        blocks.section(f":warning: *{text}.* Add an address so their next invoices can go out."),
    ]
    for customer in customers[:DIGEST_ROWS]:
        out.append(
            blocks.section(
                esc(customer.company_name),
                accessory=blocks.button("Add e-mail", CustomerIds.ADD_EMAIL, value=str(customer.id)),
            )
        )
    if count > DIGEST_ROWS:
        out.append(blocks.context(f"…and {count - DIGEST_ROWS} more: `/rebill customers` shows them all."))
    return text, out


THREAD_BATCH = 20  # invoices per thread message: 2 blocks each, inside a message's 50


class AlertIds(StrEnum):
    SEND_ALL = "digest_send_all"
    REVIEW = "digest_review"
    SEND_ONE = "digest_send_one"
    PDF_ONE = "digest_pdf_one"


def _total(invoices: Sequence[Invoice]) -> str:
    return format_total((i.total, i.currency) for i in invoices)


def invoice_ready_digest(
    period: str, invoices: Sequence[Invoice], *, outcomes: Sequence[SendOutcome] = ()
) -> tuple[str, list[Block]]:
    """One channel message for a whole bill run, however many invoices it made."""
    count = len(invoices)
    text = f"{count} invoice{'s' if count != 1 else ''} for {period} ready: {_total(invoices)}"
    largest = sorted(invoices, key=lambda i: i.total, reverse=True)[:5]
    out: list[Block] = [
        blocks.section(f":receipt: *{text}* (GST included). Details of each are in the thread."),
        blocks.section(
            "Largest:\n"
            + "\n".join(
                f"• {esc(i.customer_name)} · {esc(i.number)} · {format_money(i.total, i.currency)}"
                for i in largest
            )
        ),
    ]
    if outcomes:
        sent = [o for o in outcomes if o.ok]
        failed = [o for o in outcomes if not o.ok]
        report = f":email: E-mailed automatically: *{len(sent)}* sent"
        if failed:
            report += f", *{len(failed)}* not sent:\n" + "\n".join(
                f"• {esc(o.number)} ({esc(o.customer_name)}): {esc(o.detail)}" for o in failed[:15]
            )
            if len(failed) > 15:
                report += f"\n…and {len(failed) - 15} more."
        out.append(blocks.section(report))
    unsent = sum(1 for i in invoices if i.sent_at is None)
    buttons = []
    if unsent:
        send_all = blocks.button(f"Send all ({unsent})", AlertIds.SEND_ALL, value=period, style="primary")
        send_all["confirm"] = {
            "title": blocks.plain("Send all?"),
            "text": blocks.mrkdwn(f"E-mail every unsent {period} invoice to its customer?"),
            "confirm": blocks.plain("Send"),
            "deny": blocks.plain("Cancel"),
        }
        buttons.append(send_all)
    buttons.append(blocks.button("Review", AlertIds.REVIEW, value=period))
    out.append(blocks.actions(*buttons, block_id="digest_actions"))
    return text, out


def invoice_thread_messages(
    invoices: Sequence[Invoice], emails: dict[int, str | None]
) -> list[tuple[str, list[Block]]]:
    """Per-invoice detail for the digest's thread, batched so 300 invoices are 15 messages."""
    messages = []
    for start in range(0, len(invoices), THREAD_BATCH):
        chunk = invoices[start : start + THREAD_BATCH]
        out: list[Block] = []
        for invoice in chunk:
            email = emails.get(invoice.customer_id)
            to = esc(email) if email else "*⚠ no e-mail: can't be sent*"
            state = f"sent {invoice.sent_at:%d %b}" if invoice.sent_at else invoice.status
            out.append(
                blocks.section(
                    f"*{esc(invoice.number)}* · {esc(invoice.customer_name)} · {format_money(invoice.total, invoice.currency)} · due "
                    f"{invoice.due_date:%-d %b %Y} · _{state}_ · {to}"
                )
            )
            value = str(invoice.id)
            buttons = [blocks.button("View PDF", AlertIds.PDF_ONE, value=value)]
            if invoice.sent_at is None:
                buttons.insert(0, blocks.button("Send", AlertIds.SEND_ONE, value=value, style="primary"))
            out.append(blocks.actions(*buttons))
        first, last = start + 1, start + len(chunk)
        messages.append((f"Invoices {first}–{last} of {len(invoices)}", out))
    return messages


def overdue_alert(invoices: Sequence[Invoice], *, today: date) -> tuple[str, list[Block]]:
    count = len(invoices)
    text = f"{count} invoice{'s' if count != 1 else ''} became overdue: {_total(invoices)}"
    out: list[Block] = [blocks.section(f":alarm_clock: *{text}*")]
    for invoice in invoices[:DIGEST_ROWS]:
        days = (today - invoice.due_date).days
        out.append(
            blocks.section(
                f"*{esc(invoice.number)}* · {esc(invoice.customer_name)} · {format_money(invoice.total, invoice.currency)} · "
                f"due {invoice.due_date:%-d %b %Y} ({days} day{'s' if days != 1 else ''} ago)",
                accessory=blocks.button("Open", InvoiceIds.OPEN, value=str(invoice.id)),
            )
        )
    if count > DIGEST_ROWS:
        out.append(blocks.context(f"…and {count - DIGEST_ROWS} more: `/rebill invoices overdue`."))
    return text, out


def review_modal(period: str, invoices: Sequence[Invoice], *, today: date) -> dict[str, Any]:
    return modal(
        callback_id="digest_review_view",
        title=f"Invoices {period}"[:24],
        close="Close",
        blocks=list_blocks(invoices, status=None, today=today)[:100],
    )
