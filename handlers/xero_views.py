"""Block Kit for Xero: the settings section and modal, the invoice's Xero line, the App Home line."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from core.xero_settings import PUSH_BY_HAND, PUSH_ON_APPROVE, STATUSES, Choices
from core.xero_sync import PUSHABLE, PUSHED, VOIDED, status_line
from handlers import blocks
from handlers.blocks import Block, Mrkdwn, esc, link, md
from handlers.fields import encode_metadata, modal, notice_modal, select_input
from models.invoices import Invoice
from models.xero import XeroConnection, XeroDocument, XeroSettings

DEEP_LINK = "https://go.xero.com/organisationlogin/default.aspx?shortcode={code}&redirecturl=/AccountsReceivable/View.aspx?InvoiceID={id}"


class Ids(StrEnum):
    OPEN_SETTINGS = "xero_settings_open"
    SETTINGS_FORM = "xero_settings_form"
    PUSH = "xero_push"


def connection_text(row: XeroConnection | None, *, configured: bool) -> str:
    """Connected or not, in one line (App Home and the settings section)."""
    if not configured:
        return "Xero: not set up (XERO_CLIENT_ID unset): `rebill-bot invoice export --csv` makes Xero's import file."
    if row is None or not row.tenant_name:
        return "Xero: not connected yet: run `rebill-bot xero check` (custom connection) or `rebill-bot xero connect`."
    if row.token_error:
        return f":warning: Xero needs reconnecting ({esc(row.token_error)})"
    return f":white_check_mark: Xero: connected to *{esc(row.tenant_name)}*"


def settings_section(row: XeroConnection | None, *, configured: bool) -> list[Block]:
    """Appended to /rebill settings: where the Xero mapping lives."""
    out: list[Block] = [blocks.header("Xero"), blocks.section(connection_text(row, configured=configured))]
    if configured:
        out.append(
            blocks.actions(blocks.button("Xero settings", Ids.OPEN_SETTINGS), block_id="xero_settings")
        )
    return out


def loading_modal() -> dict[str, Any]:
    return notice_modal(
        "Xero settings",
        ":hourglass_flowing_sand: Reading the accounts and tax rates from Xero…",
        callback_id="xero_loading",
        close="Close",
    )


def settings_modal(row: XeroSettings, choices: Choices) -> dict[str, Any]:
    taxes = [(f"{name} ({rate.normalize():f}%)"[:75], code) for code, name, rate in choices.tax_rates]
    return modal(
        callback_id=Ids.SETTINGS_FORM,
        title="Xero settings",
        submit="Save",
        blocks=[
            select_input(
                "account_code",
                "Sales account",
                [(f"{code} {name}"[:75], code) for code, name in choices.accounts],
                initial=row.account_code,
            ),
            select_input(
                "tax_type_taxable",
                "Tax type for taxable lines",
                taxes,
                initial=row.tax_type_taxable or choices.default_taxable,
            ),
            select_input(
                "tax_type_free",
                "Tax type for GST-free lines",
                taxes,
                initial=row.tax_type_free or choices.default_free,
            ),
            select_input(
                "invoice_status",
                "Push invoices to Xero as",
                [
                    ("Awaiting payment (AUTHORISED)", STATUSES[1]),
                    ("Draft, approved in Xero (DRAFT)", STATUSES[0]),
                ],
                initial=row.invoice_status,
            ),
            select_input(
                "push_mode",
                "Push",
                [("When an invoice is approved", PUSH_ON_APPROVE), ("By hand (Push to Xero)", PUSH_BY_HAND)],
                initial=row.push_mode,
            ),
        ],
        private_metadata=encode_metadata(kind="xero"),
    )


def invoice_blocks(invoice: Invoice, doc: XeroDocument | None, short_code: str | None) -> list[Block]:
    """The invoice modal's Xero line, with a link into Xero once pushed and a Push button until then."""
    text = md("*Xero:* {}", status_line(doc))
    if doc is not None and doc.state in (PUSHED, VOIDED) and doc.xero_id and short_code:
        text = Mrkdwn(text + "  " + link(DEEP_LINK.format(code=short_code, id=doc.xero_id), "Open in Xero"))
    out: list[Block] = [blocks.context(text)]
    pushable = invoice.status in PUSHABLE and (doc is None or doc.state not in (PUSHED, VOIDED))
    if pushable:
        out.append(
            blocks.actions(
                blocks.button("Push to Xero", Ids.PUSH, value=str(invoice.id)), block_id="xero_actions"
            )
        )
    return out
