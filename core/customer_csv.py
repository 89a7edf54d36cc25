"""Spreadsheet migration: export end customers to CSV, import (upsert) them all-or-nothing.

An import with any bad row writes nothing: a half-imported customer book is worse than none,
and the report names every bad row so it can be fixed in one go.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

from sqlmodel import Session, col, select

from core import customers
from core.clock import Clock
from core.customer_validation import CUSTOMER_FIELDS, CustomerInput, name_key, validate_customer
from core.errors import FieldErrors
from models.customers import EndCustomer

COLUMNS = (*CUSTOMER_FIELDS, "psa_kind", "psa_ref", "archived")
REQUIRED_COLUMNS = ("company_name",)


def export(db: Session, out: IO[str], *, include_archived: bool = True) -> int:
    writer = csv.writer(out, lineterminator="\n")
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
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for raw in reader:
        number = reader.line_num
        if None in raw:
            report.rejected.append((number, "too many cells for the header"))
            continue
        values = {k: v for k, v in raw.items() if k}
        if not any((v or "").strip() for v in values.values()):
            continue
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
        rows.append(_Row(number, data, psa_kind, psa_ref))
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
    return db.exec(
        select(EndCustomer).where(
            EndCustomer.name_key == name_key(row.data.company_name), col(EndCustomer.archived_at).is_(None)
        )
    ).first()


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
                customers.create(
                    db, row.data, actor=actor, clock=clock, psa_kind=row.psa_kind, psa_ref=row.psa_ref
                )
            report.created.append((row.number, label))
            continue
        same = all(getattr(existing, f) == getattr(row.data, f) for f in CUSTOMER_FIELDS)
        if same and (existing.psa_ref == row.psa_ref or row.psa_ref is None):
            report.unchanged.append((row.number, label))
            continue
        if not dry_run:
            try:
                customers.update(db, existing.id or 0, row.data, actor=actor, clock=clock)
            except FieldErrors as exc:
                report.rejected.append((row.number, "; ".join(exc.errors.values())))
                continue
            if row.psa_ref and existing.psa_ref != row.psa_ref:
                existing.psa_kind, existing.psa_ref = row.psa_kind, row.psa_ref
                db.add(existing)
        report.updated.append((row.number, label))
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
