"""The margins report as CSV (`rebill-bot report margins --csv`): the row rules live here, not in
the command, so every CSV a spreadsheet opens is written one way (`core.csv_cells`).

One row per customer and service of the period's invoices, `core.margins.COLUMNS` in order (money
as "123.45", never floats), then `below_floor`: "yes" for a row under the margin floor, else blank.
"""

from __future__ import annotations

from typing import Final, TextIO

from sqlmodel import Session

from core import margins
from core.calculation import Period
from core.csv_cells import SafeWriter

COLUMNS: Final = (*margins.COLUMNS, "below_floor")


def write(db: Session, out: TextIO, *, period: Period) -> int:
    """Write the header and the rows; returns the number of rows."""
    found = margins.rows(db, period=period)
    low = {(r.customer_id, r.service_id) for r in margins.below_floor(db, period=period)}
    writer = SafeWriter(out)  # a customer called "=HYPERLINK(...)" stays text in a spreadsheet
    writer.writerow(COLUMNS)
    for row in found:
        data = row.as_dict()
        flagged = (row.customer_id, row.service_id) in low
        writer.writerow([*(data[column] for column in margins.COLUMNS), "yes" if flagged else ""])
    return len(found)
