"""Spreadsheet migration: export end customers to CSV, import (upsert) them all-or-nothing.

An import with any bad row writes nothing: a half-imported customer book is worse than none,
and the report names every bad row so it can be fixed in one go.

An import changes only what the file mentions: a column absent from the header leaves that field
as it is on every matched customer; an empty cell in a present column clears that (optional)
field. `archived` (yes/true/1, or no/false/0/empty) archives or restores, and a dry run reports
it. Cells are written spreadsheet-safe and read back exactly (core.csv_cells).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from sqlmodel import Session, col, select

from core import customers
from core.clock import Clock
from core.csv_cells import SafeWriter, restore
from core.customer_validation import CUSTOMER_FIELDS, CustomerInput, validate_customer
from core.errors import FieldErrors, RebillError
from core.text import name_key
from models.customers import EndCustomer

COLUMNS = (*CUSTOMER_FIELDS, "psa_kind", "psa_ref", "archived")
REQUIRED_COLUMNS = ("company_name",)


TRUE_WORDS = frozenset({"yes", "true", "1", "y"})
FALSE_WORDS = frozenset({"", "no", "false", "0", "n"})


def export(db: Session, out: IO[str], *, include_archived: bool = True) -> int:
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    query = select(EndCustomer).order_by(EndCustomer.name_key, EndCustomer.id)
    if not include_archived:
        query = query.where(col(EndCustomer.archived_at).is_(None))
    count = 0
    for customer in db.exec(query.execution_options(yield_per=500)):
        row = [getattr(customer, f) for f in CUSTOMER_FIELDS]
        row += [customer.psa_kind, customer.psa_ref, "yes" if customer.archived_at else ""]
        writer.writerow(["" if v is None else v for v in row])
        count += 1
    return count


@dataclass
class ImportReport:
    created: list[tuple[int, str]] = field(default_factory=list)
    updated: list[tuple[int, str]] = field(default_factory=list)
    unchanged: list[tuple[int, str]] = field(default_factory=list)
    archived: list[tuple[int, str]] = field(default_factory=list)
    restored: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    malformed: str | None = None

    @property
    def ok(self) -> bool:
        return self.malformed is None and not self.rejected


@dataclass(frozen=True)
class _Row:
    number: int
    data: CustomerInput
    psa_kind: str | None
    psa_ref: str | None
    present: frozenset[str]  # the customer fields the file has a column for
    archived: bool | None  # None: no `archived` column


def _read(source: IO[str], report: ImportReport) -> list[_Row]:
    reader = csv.DictReader(source)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c and c not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        report.malformed = (
            f"The header row is wrong ({'; '.join(parts)}). Expected columns: {', '.join(COLUMNS)}."
        )
        return []
    reader.fieldnames = header
    present = frozenset(header) & frozenset(CUSTOMER_FIELDS)
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for raw in reader:
        number = reader.line_num
        if None in raw:
            report.rejected.append((number, "too many cells for the header"))
            continue
        values = {k: restore(v or "") for k, v in raw.items() if k}
        if not any(v.strip() for v in values.values()):
            continue
        archived: bool | None = None
        if "archived" in header:
            word = values["archived"].strip().lower()
            if word not in TRUE_WORDS | FALSE_WORDS:
                report.rejected.append((number, "archived: use yes or no"))
                continue
            archived = word in TRUE_WORDS
        try:
            data = validate_customer(values)
        except FieldErrors as exc:
            report.rejected.append((number, "; ".join(f"{k}: {v}" for k, v in exc.errors.items())))
            continue
        key = name_key(data.company_name)
        if key in seen:
            report.rejected.append((number, f"same company name as row {seen[key]}"))
            continue
        seen[key] = number
        psa_kind = (values.get("psa_kind") or "").strip().lower() or None
        psa_ref = (values.get("psa_ref") or "").strip() or None
        if bool(psa_kind) != bool(psa_ref):
            report.rejected.append((number, "psa_kind and psa_ref go together"))
            continue
        rows.append(_Row(number, data, psa_kind, psa_ref, present, archived))
    return rows


def _match(db: Session, row: _Row) -> EndCustomer | None:
    if row.psa_ref:
        found = db.exec(
            select(EndCustomer).where(
                EndCustomer.psa_kind == row.psa_kind, EndCustomer.psa_ref == row.psa_ref
            )
        ).first()
        if found is not None:
            return found
    # An active customer of that name first; else an archived one (an exported archived row comes
    # back to the customer it came from, not as a new one).
    return db.exec(
        select(EndCustomer)
        .where(EndCustomer.name_key == name_key(row.data.company_name))
        .order_by(col(EndCustomer.archived_at).is_not(None), col(EndCustomer.id).desc())
    ).first()


def _merged(existing: EndCustomer, row: _Row) -> CustomerInput:
    """The row's values for the columns the file has; the customer's own for the rest."""
    return CustomerInput(
        **{f: getattr(row.data if f in row.present else existing, f) for f in CUSTOMER_FIELDS}
    )


def import_csv(
    db: Session, source: IO[str], *, actor: str, clock: Clock, dry_run: bool = False
) -> ImportReport:
    """Validate every row first; write only if all are good (and not a dry run). The caller commits."""
    report = ImportReport()
    rows = _read(source, report)
    if not report.ok:
        return report
    for row in rows:
        existing = _match(db, row)
        label = row.data.company_name
        if existing is None:
            if not dry_run:
                created = customers.create(
                    db, row.data, actor=actor, clock=clock, psa_kind=row.psa_kind, psa_ref=row.psa_ref
                )
                if row.archived:
                    customers.archive(db, created.id or 0, actor=actor, clock=clock)
            report.created.append((row.number, label))
            if row.archived:
                report.archived.append((row.number, label))
            continue
        data = _merged(existing, row)
        fields_same = all(getattr(existing, f) == getattr(data, f) for f in CUSTOMER_FIELDS)
        psa_same = existing.psa_ref == row.psa_ref or row.psa_ref is None
        is_archived = existing.archived_at is not None
        archive_change = row.archived is not None and row.archived != is_archived
        if fields_same and psa_same and not archive_change:
            report.unchanged.append((row.number, label))
            continue
        if not dry_run:
            try:
                if archive_change and not row.archived:
                    customers.restore(db, existing.id or 0, actor=actor, clock=clock)
                if not fields_same:
                    customers.update(db, existing.id or 0, data, actor=actor, clock=clock)
                if archive_change and row.archived:
                    customers.archive(db, existing.id or 0, actor=actor, clock=clock)
            except RebillError as exc:
                report.rejected.append((row.number, exc.user_message))
                continue
            if row.psa_ref and existing.psa_ref != row.psa_ref:
                existing.psa_kind, existing.psa_ref = row.psa_kind, row.psa_ref
                db.add(existing)
        if not (fields_same and psa_same):
            report.updated.append((row.number, label))
        if archive_change:
            (report.archived if row.archived else report.restored).append((row.number, label))
    return report


def summary_lines(report: ImportReport, *, dry_run: bool) -> Iterable[str]:
    if report.malformed:
        yield f"Malformed file, nothing imported: {report.malformed}"
        return
    verb = "would be" if dry_run else "were"
    if report.rejected:
        yield f"{len(report.rejected)} row(s) rejected, so nothing was imported:"
        for number, reason in report.rejected:
            yield f"  row {number}: {reason}"
        return
    yield f"{len(report.created)} {verb} created, {len(report.updated)} {verb} updated, {len(report.unchanged)} unchanged."
    if report.archived or report.restored:
        yield f"{len(report.archived)} {verb} archived, {len(report.restored)} {verb} restored."
