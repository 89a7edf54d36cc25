"""Block Kit for usage import and the margins report. Pure builders: data in, blocks out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.margins import MarginRow, Totals, by_customer, by_service, totals
from core.money import format_money
from handlers import blocks
from handlers.blocks import Block, esc
from handlers.fields import INPUT_ACTION, checkbox_input, checked, modal, select_input, submitted

STANDARD = "standard"
SHOW = 5  # rows per ranking in the margins summary


class Ids(StrEnum):
    FORM = "usage_import_form"
    RESULT = "usage_import_result"


def import_form(maps: Sequence[str]) -> dict[str, Any]:
    choices = [("Standard columns", STANDARD)] + [(m, m) for m in maps if m != STANDARD]
    return modal(
        callback_id=Ids.FORM,
        title="Import usage",
        submit="Import",
        blocks=[
            blocks.section(
                "Upload a supplier's usage file (CSV). Every row is imported, or none: bad rows are listed "
                "with their row numbers. Rows already imported are skipped."
            ),
            {
                "type": "input",
                "block_id": "file",
                "label": blocks.plain("Usage file"),
                "element": {
                    "type": "file_input",
                    "action_id": INPUT_ACTION,
                    "filetypes": ["csv", "txt"],
                    "max_files": 1,
                },
            },
            select_input("mapping", "Columns", choices, initial=STANDARD),
            checkbox_input(
                "dry_run", "Check only", "Dry run: check and report, write nothing", checked=False
            ),
        ],
    )


def working_view(name: str) -> dict[str, Any]:
    return modal(
        callback_id=Ids.RESULT,
        title="Import usage",
        close="Close",
        blocks=[
            blocks.section(f":hourglass_flowing_sand: Importing *{esc(name)}*… this view updates when done.")
        ],
    )


def result_view(name: str, lines: Iterable[str], *, ok: bool) -> dict[str, Any]:
    """The import's report; user-controlled text (file name, ids, names in reasons) is escaped."""
    found = list(lines)
    icon = ":white_check_mark:" if ok else ":x:"
    out: list[Block] = [blocks.section(f"{icon} *{esc(name)}*: {esc(found[0]) if found else ''}")]
    detail = found[1:]
    for chunk in range(0, min(len(detail), 40), 10):
        out.append(blocks.section("\n".join(f"• {esc(line)}" for line in detail[chunk : chunk + 10])))
    if len(detail) > 40:
        out.append(
            blocks.context(
                f"…and {len(detail) - 40} more: `rebill-bot usage import --dry-run` lists them all."
            )
        )
    return modal(callback_id=Ids.RESULT, title="Import usage", close="Close", blocks=out)


def _pct(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value}%"


def _line(name: str, t: Totals, currency: str) -> str:
    return f"{esc(name)}: {format_money(t.margin, currency)} on {format_money(t.revenue, currency)} ({_pct(t.margin_percent)})"


def margins_blocks(
    period: str, rows: Sequence[MarginRow], low: Sequence[MarginRow], *, currency: str
) -> list[Block]:
    """Top customers and services by margin, the lowest margin %, the floor exceptions, totals."""
    if not rows:
        return [blocks.section(f"No invoices for *{period}* yet: nothing to report.")]
    total = totals(rows)
    out: list[Block] = [
        blocks.header(f"Margins for {period}"),
        blocks.section(
            f"*Total:* margin {format_money(total.margin, currency)} on revenue {format_money(total.revenue, currency)} "
            f"(cost {format_money(total.cost, currency)}, {_pct(total.margin_percent)} on cost)"
            + (
                f"\n_{format_money(total.uncosted, currency)} of revenue has no cost recorded._"
                if total.uncosted
                else ""
            )
        ),
        blocks.section(
            "*Top customers*\n" + "\n".join(_line(n, t, currency) for n, t in by_customer(rows)[:SHOW])
        ),
        blocks.section(
            "*Top services*\n" + "\n".join(_line(n, t, currency) for n, t in by_service(rows)[:SHOW])
        ),
    ]
    costed = sorted((r for r in rows if r.margin_percent is not None), key=lambda r: r.margin_percent or 0)
    if costed:
        out.append(
            blocks.section(
                "*Lowest margin %*\n"
                + "\n".join(
                    f"{esc(r.customer_name)} · {esc(r.service_name)}: {_pct(r.margin_percent)}"
                    for r in costed[:SHOW]
                )
            )
        )
    if low:
        out.append(
            blocks.section(
                f":warning: *{len(low)} below the margin floor*\n"
                + "\n".join(
                    f"{esc(r.customer_name)} · {esc(r.service_name)}: {_pct(r.margin_percent)}"
                    for r in low[:10]
                )
            )
        )
    out.append(
        blocks.context("Internal figures: margin % is on cost. `rebill-bot report margins` has every row.")
    )
    return out


@dataclass(frozen=True)
class ImportForm:
    """The usage-import form: the uploaded file (None: none chosen), the column map, dry run or not."""

    file_id: str | None
    file_name: str | None
    mapping: str | None  # None: the standard columns
    dry_run: bool


def parse_import_form(view: dict[str, Any]) -> ImportForm:
    values = submitted(view)
    files = values.get("file") or []
    mapping = None if values.get("mapping") in (None, STANDARD) else values["mapping"]
    if not files:
        return ImportForm(None, None, mapping, checked(values, "dry_run"))
    file_id = str(files[0].get("id", ""))
    return ImportForm(file_id, str(files[0].get("name") or file_id), mapping, checked(values, "dry_run"))
