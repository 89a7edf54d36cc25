"""Block Kit for invoices: the customer-view section, the invoice modal, lists and the bill run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from core.billrun import BillPreview, BillRunResult, HeldCatchUp
from core.credit_notes import REASON_LIMIT
from core.invoice_states import (
    CREDIT_NOTE,
    CREDITABLE,
    DRAFT,
    INVOICE,
    OWING,
    UNSENT,
    VOID,
)
from core.invoices import status_label
from core.money import ZERO, format_money
from handlers import blocks
from handlers.blocks import Block, esc
from handlers.charge_views import day, lines_and_totals
from handlers.close_ids import CloseIds
from handlers.customer_views import Ids as CustomerIds
from handlers.fields import INPUT_ACTION, encode_metadata, modal, notice_modal, option, submitted, text_input
from models.invoices import Invoice, InvoiceLine

SECTION_ROWS = 10
LIST_ROWS = 40


class Ids(StrEnum):
    OPEN = "invoice_open"
    VIEW = "invoice_view"
    PDF = "invoice_pdf"
    APPROVE = "invoice_approve"
    REGENERATE = "invoice_regenerate"
    VOID = "invoice_void"
    REISSUE = "invoice_reissue"
    PAID = "invoice_paid"
    SEND = "invoice_send"
    BILLRUN_RUN = "billrun_run"
    BILLRUN_RUN_OLD = "billrun_run_old"
    CREDIT = "invoice_credit"
    FORM_CREDIT = "invoice_credit_form"


def _confirm(title: str, text: str, go: str) -> dict[str, Any]:
    return {
        "title": blocks.plain(title),
        "text": blocks.mrkdwn(text),
        "confirm": blocks.plain(go),
        "deny": blocks.plain("Cancel"),
        "style": "danger",
    }


def row_text(invoice: Invoice, today: date) -> str:
    if invoice.doc_type == CREDIT_NOTE:
        return (
            f"*{esc(invoice.number)}* · {invoice.period} · credit note {format_money(invoice.total, invoice.currency)}"
            f" · _{status_label(invoice, today)}_"
        )
    return (
        f"*{esc(invoice.number)}* · {invoice.period} · {format_money(invoice.total, invoice.currency)} · due {day(invoice.due_date)}"
        f" · _{status_label(invoice, today)}_"
    )


def invoices_section(invoices: Sequence[Invoice], *, today: date, total_count: int) -> list[Block]:
    out: list[Block] = [blocks.divider(), blocks.section(f"*Invoices* ({total_count})")]
    if not invoices:
        out.append(blocks.context("_none yet_"))
    for invoice in invoices[:SECTION_ROWS]:
        out.append(
            blocks.section(
                row_text(invoice, today), accessory=blocks.button("Open", Ids.OPEN, value=str(invoice.id))
            )
        )
    if total_count > SECTION_ROWS:
        out.append(
            blocks.context(
                f"Latest {SECTION_ROWS} shown; `/rebill invoices` and `rebill-bot invoice list` show all."
            )
        )
    return out


def invoice_modal(
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    *,
    today: date,
    customer_email: str | None,
    xero: Sequence[Block] = (),
    changes: str | None = None,
    uncertain: bool = False,
) -> dict[str, Any]:
    value = str(invoice.id)
    out: list[Block] = [
        blocks.header(f"{invoice.number} · {invoice.customer_name}"),
        blocks.section(
            f"*Status:* {status_label(invoice, today)}\n*Period:* {invoice.period}\n"
            f"*Issued:* {day(invoice.issue_date)}\n*Due:* {day(invoice.due_date)} ({invoice.payment_terms_days} days)",
            block_id="summary",
        ),
    ]
    if changes:
        out.append(blocks.context(f":arrows_counterclockwise: {esc(changes)}"))
    if uncertain:
        out.append(
            blocks.section(
                ":grey_question: *Delivery uncertain: check your mail server's log.* A send was "
                "interrupted; it is not sent again by itself."
            )
        )
        out.append(
            blocks.actions(
                blocks.button("Send again", CloseIds.SEND_AGAIN, value=str(invoice.id)),
                blocks.button("It was sent", CloseIds.WAS_SENT, value=str(invoice.id)),
            )
        )
    if invoice.sent_at:
        out.append(
            blocks.context(
                f":email: Sent to {esc(invoice.sent_to or '')} on {invoice.sent_at:%d %b %Y %H:%M} UTC"
            )
        )
    if invoice.send_error and invoice.status in (DRAFT, *OWING) and not invoice.sent_at:
        out.append(
            blocks.section(f":warning: *The last attempt to e-mail it failed:* {esc(invoice.send_error)}")
        )
    if invoice.status != VOID and not customer_email:
        out.append(
            blocks.section(
                ":rotating_light: *The customer has no e-mail address: this invoice can't be sent.*"
            )
        )
    out.append(blocks.divider())
    out += lines_and_totals(
        lines,
        subtotal=invoice.subtotal,
        tax=invoice.tax,
        total=invoice.total,
        tax_rate=invoice.tax_rate,
        limit=60,
        currency=invoice.currency,
        show_code=True,
        more=" (the PDF has them all)",
    )
    buttons = [blocks.button("Download PDF", Ids.PDF, value=value)]
    if invoice.status == DRAFT:
        buttons.append(blocks.button("Approve", Ids.APPROVE, value=value, style="primary"))
        buttons.append(blocks.button("Regenerate", Ids.REGENERATE, value=value))
    if invoice.status in (DRAFT, *OWING):
        if invoice.sent_at:
            buttons.append(blocks.button("Send again", Ids.SEND, value=f"{value}:resend"))
        else:
            buttons.append(blocks.button("Send", Ids.SEND, value=value))
    if invoice.status in OWING and invoice.doc_type == INVOICE:
        paid = blocks.button("Mark paid", Ids.PAID, value=value)
        paid["confirm"] = _confirm("Mark paid?", f"Record {invoice.number} as paid in full?", "Mark paid")
        paid["confirm"].pop("style")
        buttons.append(paid)
    if invoice.status in CREDITABLE and invoice.doc_type == INVOICE:
        buttons.append(blocks.button("Credit", Ids.CREDIT, value=value))
    if invoice.status in UNSENT:
        void = blocks.button("Void", Ids.VOID, value=value, style="danger")
        void["confirm"] = _confirm(
            "Void invoice?", f"{invoice.number} keeps its number but is no longer owed.", "Void"
        )
        buttons.append(void)
        reissue = blocks.button("Void and reissue", Ids.REISSUE, value=value)
        reissue["confirm"] = _confirm(
            "Reissue?",
            f"Void {invoice.number} and issue a new invoice with a new number from the current charges?",
            "Reissue",
        )
        buttons.append(reissue)
    out.append(blocks.actions(*buttons[:25], block_id="invoice_actions"))
    out += list(xero)
    return modal(
        callback_id=Ids.VIEW,
        title="Credit note" if invoice.doc_type == CREDIT_NOTE else "Invoice",
        close="Close",
        blocks=out[:100],
        private_metadata=encode_metadata(invoice_id=invoice.id),
    )


def credit_form(invoice: Invoice, lines: Sequence[InvoiceLine]) -> dict[str, Any]:
    """Which lines to credit (none chosen: all) and why."""
    choices = [(f"{line.position}. {line.description}", str(line.position)) for line in lines]
    picker: Block = {
        "type": "input",
        "block_id": "lines",
        "label": blocks.plain("Lines to credit"),
        "optional": True,
        "hint": blocks.plain("Leave empty to credit every line."),
        "element": {
            "type": "multi_static_select",
            "action_id": INPUT_ACTION,
            "placeholder": blocks.plain("Every line"),
            "options": [option(text, position) for text, position in choices][:100],
        },
    }
    return modal(
        callback_id=Ids.FORM_CREDIT,
        title="Credit invoice",
        submit="Issue credit note",
        blocks=[
            blocks.section(
                f"A credit note for *{esc(invoice.number)}* ({format_money(invoice.total, invoice.currency)}), numbered in "
                "its own series. Credited days of recurring charges are billed again by the next bill "
                "run if the charges still say they are owed."
            ),
            picker,
            text_input(
                "reason", "Reason", optional=True, max_length=REASON_LIMIT, placeholder="e.g. outage 3-5 Dec"
            ),
        ],
        private_metadata=encode_metadata(invoice_id=invoice.id),
    )


def list_blocks(
    invoices: Sequence[Invoice], *, status: str | None, today: date, total: int | None = None
) -> list[Block]:
    """Up to LIST_ROWS rows; `total` is the full count when `invoices` is only the first page."""
    total = len(invoices) if total is None else total
    what = f"{status} invoices" if status else "Invoices"
    if not invoices:
        return [blocks.section(f"*No {what.lower()}.*")]
    out: list[Block] = [blocks.section(f"*{what}* ({total})")]
    for invoice in invoices[:LIST_ROWS]:
        out.append(
            blocks.section(
                f"{row_text(invoice, today)}\n{esc(invoice.customer_name)}",
                accessory=blocks.button("Open", Ids.OPEN, value=str(invoice.id)),
            )
        )
    if total > LIST_ROWS:
        out.append(
            blocks.context(f"Showing {LIST_ROWS} of {total}: `rebill-bot invoice list` shows them all.")
        )
    return out


def billrun_preview_blocks(preview: BillPreview, *, currency: str) -> list[Block]:
    period = preview.period
    if not preview.items:
        already = f" ({preview.already_invoiced} already invoiced)" if preview.already_invoiced else ""
        return [blocks.section(f"*Bill run for {period}:* nothing new to invoice{already}.")]
    top = sorted(preview.items, key=lambda item: item.total, reverse=True)[:10]
    lines = "\n".join(f"• {esc(item.customer_name)}: {format_money(item.total, currency)}" for item in top)
    more = f"\n…and {preview.count - len(top)} more" if preview.count > len(top) else ""
    already = f" · {preview.already_invoiced} already invoiced" if preview.already_invoiced else ""
    run = blocks.button(f"Run bill run for {period}", Ids.BILLRUN_RUN, value=period, style="primary")
    run["confirm"] = _confirm(
        "Run the bill run?",
        f"Create {preview.count} invoices for {period}, totalling {format_money(preview.total, currency)}?",
        "Run",
    )
    run["confirm"].pop("style")
    out = [
        blocks.section(
            f"*Bill run for {period}:* {preview.count} customers would be invoiced, "
            f"{format_money(preview.total, currency)} in all (GST included){already}.\nLargest:\n{lines}{more}"
        ),
    ]
    buttons = [run]
    if preview.held:
        out.append(held_section(preview.held, currency=currency))
        old = blocks.button("Run, with older catch-up", Ids.BILLRUN_RUN_OLD, value=period)
        old["confirm"] = _confirm(
            "Bill older catch-up too?",
            f"Also bill {len(preview.held)} unbilled piece(s) older than the back-billing horizon, "
            f"{format_money(preview.held_total, currency)} ex GST?",
            "Bill them",
        )
        old["confirm"].pop("style")
        buttons.append(old)
    out.append(blocks.actions(*buttons, block_id="billrun_actions"))
    return out


def held_section(held: Sequence[HeldCatchUp], *, currency: str) -> Block:
    """Unbilled days beyond the horizon: neither billed nor dropped without someone deciding."""
    rows = "\n".join(
        f"• {esc(item.customer_name)}: {esc(item.description)} {format_money(item.amount, currency)}"
        for item in held[:10]
    )
    more = f"\n…and {len(held) - 10} more" if len(held) > 10 else ""
    return blocks.section(
        f":hourglass: *Needs a decision:* {len(held)} unbilled piece(s) older than the back-billing "
        f"horizon, {format_money(sum((h.amount for h in held), ZERO), currency)} ex GST. They are not billed "
        f"unless you choose to.\n{rows}{more}"
    )


def billrun_summary_text(result: BillRunResult, *, currency: str) -> str:
    ranges = ", ".join(first if first == last else f"{first}–{last}" for first, last in result.number_ranges)
    text = (
        f":white_check_mark: *Bill run for {result.period} done:* {result.created} invoices created"
        + (f" ({ranges})" if ranges else "")
        + f", {format_money(result.total, currency)} in all; {result.skipped_existing} already invoiced, "
        f"{result.nothing_to_bill} with nothing to bill."
    )
    if result.regenerated:
        text += f" {result.regenerated} drafts regenerated."
    if result.credit_notes:
        text += f" {result.credit_notes} of them credit notes (credits exceeded charges)."
    if result.held:
        held = sum((item.amount for item in result.held), ZERO)
        text += (
            f"\n:hourglass: {len(result.held)} older catch-up piece(s), {format_money(held, currency)} ex GST, held for a "
            "decision: `/rebill billrun` offers to bill them."
        )
    for warning in result.warnings[:5]:
        text += f"\n:warning: {esc(warning)}"
    return text


def notice(text: str) -> dict[str, Any]:
    return notice_modal("Invoice", text, callback_id="invoice_notice")


def no_email_modal(reason: str, customer_id: int | None) -> dict[str, Any]:
    """Why it can't be sent, and the way out."""
    out: list[Block] = [blocks.section(f":rotating_light: {esc(reason)}")]
    if customer_id is not None:
        out.append(
            blocks.actions(
                blocks.button("Add e-mail", CustomerIds.ADD_EMAIL, value=str(customer_id), style="primary")
            )
        )
    return modal(callback_id="invoice_no_email", title="Can't send yet", close="Close", blocks=out)


@dataclass(frozen=True)
class CreditForm:
    """The credit form as submitted: the lines ticked (none: the whole invoice) and the reason."""

    positions: tuple[int, ...]
    reason: str | None


def parse_credit_form(view: dict[str, Any]) -> CreditForm:
    values = submitted(view)
    return CreditForm(tuple(int(position) for position in values.get("lines") or []), values.get("reason"))
