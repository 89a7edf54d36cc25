"""Import a supplier's usage file: streaming, all or nothing, idempotent by the supplier's charge id.

The file
    CSV, one usage record a row. Its columns are mapped onto ours by a small TOML mapping
    (`load_mapping`; two documented examples in `core/usage_maps/`), so a supplier's own export
    is read as it is. Our fields: `usage_id` (the supplier's charge id), who (`customer_id`,
    `customer` = exact company name, `psa_reference`, or `service_reference` = a service's
    reference or PSA reference, which also names the service), `date` or `period` (YYYY-MM, read
    as its first day), `description`, `quantity`, `unit_cost`, optional `unit_price` (else cost
    plus margin, `core.pricing`) and optional `taxable`.

All or nothing in one streaming pass (constant memory)
    Rows are read one at a time (`csv.reader` over the open file) and checked (`core.usage_rows`);
    valid ones are written in batches of `BATCH` inside ONE transaction (`core.usage_writer`: the
    driver's own bulk path, a million rows being the size this is built for). Writing goes on after a bad row (so
    every later row is still checked against the earlier ones), and at the end the transaction
    is rolled back if any row was bad (or for a dry run) and committed by the caller otherwise.
    Memory holds one batch, the lookup caches (bounded by the number of customers and services,
    not rows) and at most `KEEP` messages; every bad row is also handed to `on_error` as it is
    found, so the CLI reports them all whatever their number. Cost: a failing file has been
    written and rolled back, and a long import holds a write transaction (on SQLite the only one).
    Two imports of one file at once: the unique index lets the first win and the second stops
    with `ImportConflict` (nothing of it kept); importing it again then skips what is stored.

Idempotent
    `(mapping source, usage_id)` is unique. A row whose id is already stored with the same values
    is counted as already imported and skipped; with different values it is reported as changed
    and NOT applied (the stored record may already be billed; fix it by hand if the supplier
    really re-issued the charge). Inside one file a repeated id with different values is an error.
    Set-based: a batch none of whose ids is taken (every batch of a new file) is written whole;
    only a batch with a taken id is compared row by row with what is stored (`_Batches`).
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Final

from sqlalchemy import select
from sqlmodel import Session

from core.clock import Clock
from core.errors import RebillError
from core.usage_mapping import (
    STANDARD,
    MappingError,
    UsageMapping,
    load_mapping,
    parse_mapping,
    shipped_maps,
)
from core.usage_rows import Row, RowError, RowParser, same_charge
from core.usage_writer import UsageWriter
from models.usage import UsageRecord

BATCH: Final = 10_000
KEEP: Final = 1000  # messages kept in the report; `on_error` sees every one
ANALYZE_AFTER_ROWS: Final = BATCH  # a file this large refreshes the planner's statistics (PostgreSQL)
_USAGE = UsageRecord.__table__  # type: ignore[attr-defined]


__all__ = [  # the mapping's names are re-exported: callers import the whole feature from here
    "STANDARD",
    "ImportConflict",
    "ImportReport",
    "MappingError",
    "UsageMapping",
    "import_usage",
    "load_mapping",
    "parse_mapping",
    "shipped_maps",
    "summary_lines",
]


class ImportConflict(RebillError):
    """Another import stored some of the same usage ids while this one ran; nothing was imported."""


@dataclass
class ImportReport:
    """What an import did (or, dry run, would do). Messages are capped at KEEP; counts are exact."""

    file_name: str = ""
    dry_run: bool = False
    rows: int = 0
    added: int = 0
    already: int = 0  # already imported with the same values (or repeated identically in the file)
    changed: int = 0
    error_count: int = 0
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def error(self, row: int, reason: str) -> str:
        message = f"row {row}: {reason}"
        self.error_count += 1
        if len(self.errors) < KEEP:
            self.errors.append(message)
        return message

    def change(self, row: int, reason: str) -> str:
        message = f"row {row}: {reason}"
        self.changed += 1
        if len(self.changes) < KEEP:
            self.changes.append(message)
        return message


def summary_lines(report: ImportReport) -> Iterator[str]:
    """The report as a person reads it (CLI and Slack)."""
    if not report.ok:
        yield (
            f"Nothing imported: {report.error_count} bad row(s) in {report.rows} "
            f"(fix them and import the whole file again)."
        )
        yield from report.errors
        if report.error_count > len(report.errors):
            yield f"…and {report.error_count - len(report.errors)} more bad row(s)."
        return
    verb = "would be added" if report.dry_run else "added"
    yield (
        f"{report.rows} row(s) read{' (dry run: nothing written)' if report.dry_run else ''}: "
        f"{report.added} {verb}, {report.already} already imported, {report.changed} changed (not applied)."
    )
    for message in report.changes:
        yield f"changed, not applied: {message}"
    if report.changed > len(report.changes):
        yield f"…and {report.changed - len(report.changes)} more changed row(s)."


def import_usage(
    db: Session,
    source: IO[str],
    *,
    mapping: UsageMapping = STANDARD,
    actor: str,
    clock: Clock,
    dry_run: bool = False,
    file_name: str = "",
    on_error: Callable[[str], None] | None = None,
    batch_size: int = BATCH,
) -> ImportReport:
    """Import the usage rows in `source` (see the module docstring). Rolls back on any bad row or a
    dry run; otherwise leaves the rows written in `db`'s transaction for the caller to commit.
    `batch_size` is for tests that cross batch boundaries with a few rows."""
    report = ImportReport(file_name=file_name, dry_run=dry_run)
    now = clock.now()
    import_ref = f"{now:%Y%m%dT%H%M%S} {uuid.uuid4().hex[:8]} {file_name}"[:64]  # unique per import
    reader = csv.reader(source, delimiter=mapping.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise MappingError("The file is empty: it has no header row.") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise MappingError(f"The file can't be read as CSV text: {exc}") from None
    parse = RowParser(db, mapping, header).parse
    writer = UsageWriter(db, source=mapping.source, import_ref=import_ref, created_at=now, actor=actor)
    batches = _Batches(db, writer, report, on_error, source=mapping.source, import_ref=import_ref)
    size = batch_size
    batch: list[Row] = []
    append = batch.append
    row_number = 1
    try:
        for row_number, cells in enumerate(reader, start=2):
            try:
                row = parse(row_number, cells)
            except RowError as exc:
                report.rows += 1
                batches.bad(row_number, str(exc))
                continue
            if row is not None:
                append(row)
                if len(batch) >= size:
                    report.rows += len(batch)
                    batches.write(batch)
                    batch = []
                    append = batch.append
        report.rows += len(batch)
        batches.write(batch)
    except (csv.Error, UnicodeDecodeError) as exc:
        report.rows += len(batch)
        batches.bad(row_number + 1, f"the file can't be read past here ({exc})")
    finally:
        writer.finish()
    if not report.ok:
        report.added = 0
    if not report.ok or dry_run:
        db.rollback()
    elif report.added >= ANALYZE_AFTER_ROWS:
        writer.refresh_statistics()
    return report


class _Batches:
    """Writes batches of checked rows, sorting out the ones whose usage id is already taken."""

    def __init__(
        self,
        db: Session,
        writer: UsageWriter,
        report: ImportReport,
        on_error: Callable[[str], None] | None,
        *,
        source: str,
        import_ref: str,
    ) -> None:
        self.db, self.writer, self.report, self.on_error = db, writer, report, on_error
        self.source, self.import_ref = source, import_ref

    def bad(self, row: int, reason: str) -> None:
        message = self.report.error(row, reason)
        if self.on_error:
            self.on_error(message)

    def write(self, batch: list[Row]) -> None:
        """The whole batch at once when none of its ids is taken (every batch of a new file), else
        row by row against what is stored (`_sort_out`)."""
        if not batch:
            return
        writer = self.writer
        if writer.is_sqlite:
            # This transaction is SQLite's only writer (BEGIN IMMEDIATE), so a taken id can only
            # be one stored before or earlier in this file: try, and look closer if that fails.
            writer.savepoint("usage_batch")
            try:
                writer.insert(batch)
            except writer.IntegrityError:
                writer.rollback_to("usage_batch")
                self._sort_out(batch)
                return
            writer.release("usage_batch")
            self.report.added += len(batch)
            return
        # PostgreSQL: look first, so that a failed insert can only mean another import at once.
        ids = [row[0] for row in batch]
        if len(set(ids)) < len(ids) or writer.any_taken(self.source, ids):
            self._sort_out(batch)
        else:
            self._insert(batch)

    def _sort_out(self, batch: list[Row]) -> None:
        stored = {
            row.usage_id: row
            for row in self.db.execute(
                select(
                    _USAGE.c.usage_id,
                    _USAGE.c.import_ref,
                    _USAGE.c.source_row,
                    _USAGE.c.customer_id,
                    _USAGE.c.service_id,
                    _USAGE.c.usage_date,
                    _USAGE.c.description,
                    _USAGE.c.quantity,
                    _USAGE.c.unit_cost,
                    _USAGE.c.unit_price,
                    _USAGE.c.price_given,
                    _USAGE.c.taxable,
                ).where(_USAGE.c.source == self.source, _USAGE.c.usage_id.in_({r[0] for r in batch}))
            )
        }
        fresh: dict[str, Row] = {}
        for row in batch:
            usage_id, number = row[0], row[-1]
            earlier = fresh.get(usage_id)
            if earlier is not None:
                same, where = same_charge(earlier) == same_charge(row), f"row {earlier[-1]}"
                in_file = True
            elif usage_id in stored:
                old = stored[usage_id]
                same = (
                    old.customer_id,
                    old.service_id,
                    old.usage_date,
                    old.description,
                    old.quantity,
                    old.unit_cost,
                    old.unit_price if old.price_given else None,
                    old.taxable,
                ) == same_charge(row)
                in_file = old.import_ref == self.import_ref
                where = f"row {old.source_row}" if in_file else f"row {old.source_row} of an earlier import"
            else:
                fresh[usage_id] = row
                continue
            if same:
                self.report.already += 1
            elif in_file:
                self.bad(number, f"usage id {usage_id} is also on {where} with different values")
            else:
                self.report.change(number, f"usage id {usage_id} differs from {where}")
        self._insert(list(fresh.values()))

    def _insert(self, rows: list[Row]) -> None:
        try:
            self.writer.insert(rows)
        except self.writer.IntegrityError:
            # Two imports of one file at once: the unique (source, usage_id) index lets one win.
            self.writer.finish()
            self.db.rollback()
            raise ImportConflict(
                "Another import stored some of these usage ids meanwhile; nothing was imported from this "
                "file. Import it again: the rows already stored will be skipped."
            ) from None
        self.report.added += len(rows)
