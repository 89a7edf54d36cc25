"""Block Kit for the scheduled PSA refresh's alert: which linked customers the resync changed."""

from __future__ import annotations

from collections.abc import Sequence

from core.psa_sync import CustomerChange
from handlers import blocks
from handlers.blocks import Block, esc
from handlers.customer_views import Ids as CustomerIds

ALERT_ROWS = 40  # leaves room in the 50-block message for the header and the overflow line


def psa_changes_alert(vendor: str, changes: Sequence[CustomerChange]) -> tuple[str, list[Block]]:
    count = len(changes)
    text = f"The {vendor} resync changed {count} customer{'s' if count != 1 else ''}"
    out: list[Block] = [
        blocks.section(
            f":arrows_counterclockwise: *{esc(text)}.* Empty {esc(vendor)} fields never overwrite ours."
        )
    ]
    for change in changes[:ALERT_ROWS]:
        lines = "\n".join(f"• {esc(line)}" for line in change.describe())
        out.append(
            blocks.section(
                f"*{esc(change.name)}*\n{lines}",
                accessory=blocks.button("Open", CustomerIds.LIST_OPEN, value=str(change.customer_id)),
            )
        )
    if count > ALERT_ROWS:
        out.append(blocks.context(f"…and {count - ALERT_ROWS} more: the audit log has every change."))
    return text, out
