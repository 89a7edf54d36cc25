"""Block Kit for importing and linking PSA companies. Pure builders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.customer_validation import EMAIL_MAX
from core.psa_sync import SyncResult
from handlers import blocks
from handlers.blocks import Block, esc
from handlers.fields import encode_metadata, modal, notice_modal, option, submitted, text_input
from models.psa import PsaCompany


class Ids(StrEnum):
    PICK = "customer_import_pick"
    SAVE = "customer_import_save"
    COMPANY = "psa_company"
    REFRESH = "psa_refresh"


def option_text(row: PsaCompany) -> str:
    """Name and city, within Slack's 75 characters: the name is cut, never the city."""
    city = f" · {row.city}" if row.city else ""
    room = 75 - len(city)
    name = row.name if len(row.name) <= room else row.name[: room - 1] + "…"
    return name + city


def options(rows: Sequence[PsaCompany]) -> list[dict[str, Any]]:
    return [option(option_text(row), row.psa_id) for row in rows[:100]]


def company_select(action_id: str, *, label: str, hint: str | None = None) -> Block:
    block: Block = {
        "type": "input",
        "block_id": "psa_ref",
        "label": blocks.plain(label),
        "element": {
            "type": "external_select",
            "action_id": action_id,
            "min_query_length": 0,
            "placeholder": blocks.plain("Type part of the company name"),
        },
        "optional": False,
    }
    if hint:
        block["hint"] = blocks.plain(hint)
    return block


def loading_modal(vendor: str) -> dict[str, Any]:
    return notice_modal(
        "Import customer",
        f":hourglass_flowing_sand: Loading your companies from {vendor}… this takes a moment the first time.",
        callback_id="psa_loading",
        close="Cancel",
    )


def pick_modal(
    vendor: str, *, count: int, refreshed: datetime | None, error: str | None = None
) -> dict[str, Any]:
    status = f"{count:,} active companies" + (
        f", refreshed {refreshed:%d %b %Y %H:%M} UTC" if refreshed else ""
    )
    out: list[Block] = [
        company_select(Ids.COMPANY, label=f"{vendor} company", hint="Only active companies are listed."),
        blocks.context(status),
        blocks.actions(blocks.button("Refresh company list", Ids.REFRESH), block_id="psa_refresh"),
    ]
    if error:
        out.insert(0, blocks.section(f":warning: {esc(error)} The list below is the last good one."))
    return modal(callback_id=Ids.PICK, title="Import customer", submit="Next", blocks=out)


def details_modal(row: PsaCompany, vendor: str, *, default_days: int) -> dict[str, Any]:
    address = ", ".join(
        p for p in (row.address_line1, row.address_line2, row.city, row.state, row.postcode, row.country) if p
    )
    synced = [
        f"*Company name:* {esc(row.name)}",
        f"*Contact number:* {esc(row.phone) if row.phone else '_none_'}",
        f"*Company address:* {esc(address) if address else '_none_'}",
        f"*Integration reference:* {vendor} #{esc(row.psa_id)}",
    ]
    return modal(
        callback_id=Ids.SAVE,
        title="Import customer",
        submit="Save",
        blocks=[
            blocks.section("\n".join(synced), block_id="synced"),
            blocks.context(f"These come from {vendor} and stay in sync with it."),
            text_input(
                "email",
                "E-mail",
                initial=row.email,
                hint=f"Invoices are e-mailed here{' (from ' + vendor + ')' if row.email else ''}.",
                max_length=EMAIL_MAX,
            ),
            text_input(
                "payment_terms_days",
                "Payment terms (days)",
                hint=f"Leave blank to use the global default ({default_days} days).",
                max_length=3,
            ),
        ],
        private_metadata=encode_metadata(psa_ref=row.psa_id),
    )


def resync_note(vendor: str, result: SyncResult) -> Block:
    """What the Resync button changed, shown on the customer page it refreshes."""
    lines = [line for change in result.changes for line in change.describe()]
    if not lines:
        return blocks.context(f":arrows_counterclockwise: Resynced from {esc(vendor)}: nothing changed.")
    return blocks.context(f":arrows_counterclockwise: Resynced from {esc(vendor)}: " + esc("; ".join(lines)))


@dataclass(frozen=True)
class DetailsForm:
    """What the import form adds to the PSA's own fields (as typed; core validates them)."""

    email: str | None
    payment_terms_days: str | None


def parse_pick_form(view: dict[str, Any]) -> str | None:
    """The PSA company chosen, by its reference in the PSA."""
    return submitted(view).get("psa_ref")


def parse_details_form(view: dict[str, Any]) -> DetailsForm:
    values = submitted(view)
    return DetailsForm(values.get("email"), values.get("payment_terms_days"))
