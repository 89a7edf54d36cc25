"""CSV cells that are safe to open in a spreadsheet, and read back exactly as they were written.

OWASP's CSV-injection rule: a text cell starting with `=`, `+`, `-`, `@`, tab or carriage return
can be run as a formula by Excel, LibreOffice or Google Sheets (`=HYPERLINK(...)` in a customer
name exfiltrates the sheet). Such a cell is written with a leading `'`, which every spreadsheet
shows as text. A cell that already starts with `'` gets one more, so that `restore` (used by the
customer import) can strip exactly one and a round trip is lossless. Plain numbers, including
negative amounts like `-10.00`, are left alone: spreadsheets read them as numbers, not formulas.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any, Final

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def neutralise(value: Any) -> Any:
    if not isinstance(value, str) or not value or _NUMBER.fullmatch(value):
        return value
    if value.startswith((*FORMULA_STARTS, "'")):
        return "'" + value
    return value


def restore(text: str) -> str:
    """Undo `neutralise` on a cell read from a file (a hand-typed `'=x` also reads as `=x`)."""
    if text.startswith("'") and text[1:].startswith((*FORMULA_STARTS, "'")):
        return text[1:]
    return text


class SafeWriter:
    """csv.writer whose every text cell goes through `neutralise`."""

    def __init__(self, out: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])
