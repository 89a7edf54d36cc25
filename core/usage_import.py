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
    Rows are read one at a time (`csv.reader` over the open file) and validated; valid ones are
    written in batches of `BATCH` inside ONE transaction. Writing goes on after a bad row (so
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
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Final, NamedTuple

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.charge_validation import QUANTITY_MAX, UNIT_PRICE_LIMIT
from core.clock import Clock
from core.errors import RebillError
from core.money import price_from_cost
from core.pricing import margin_for
from core.usage_mapping import (
    FIELDS,
    STANDARD,
    WHO,
    MappingError,
    UsageMapping,
    load_mapping,
    parse_mapping,
    shipped_maps,
)
from models.charges import Service
from models.customers import EndCustomer
from models.usage import UsageRecord

BATCH: Final = 2000
KEEP: Final = 1000  # messages kept in the report; `on_error` sees every one
_USAGE = UsageRecord.__table__  # type: ignore[attr-defined]
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_TRUE = frozenset({"true", "yes", "y", "1", "gst", "taxable"})
_FALSE = frozenset({"false", "no", "n", "0", "gst free", "gst-free", "free", "exempt"})
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


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


class _Record(NamedTuple):
    row: int
    usage_id: str
    customer_id: int
    service_id: int | None
    usage_date: date
    description: str
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    price_given: bool
    taxable: bool

    def compare(self) -> tuple[Any, ...]:
        """What makes two records of one charge id the same charge (a derived price is not)."""
        return (
            self.customer_id,
            self.service_id,
            self.usage_date,
            self.description,
            self.quantity,
            self.unit_cost,
            self.unit_price if self.price_given else None,
            self.taxable,
        )


class _RowError(Exception):
    pass


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
) -> ImportReport:
    """Import the usage rows in `source` (see the module docstring). Rolls back on any bad row or a
    dry run; otherwise leaves the rows written in `db`'s transaction for the caller to commit."""
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
    parse = _RowParser(db, mapping, header)
    batch: list[_Record] = []
    row_number = 1
    try:
        for row_number, cells in enumerate(reader, start=2):
            if not any(cells):  # a blank line, or one of only separators
                continue
            report.rows += 1
            try:
                batch.append(parse(row_number, cells))
            except _RowError as exc:
                message = report.error(row_number, str(exc))
                if on_error:
                    on_error(message)
                continue
            if len(batch) >= BATCH:
                _write(db, batch, mapping.source, report, import_ref, actor, now, on_error)
                batch = []
        _write(db, batch, mapping.source, report, import_ref, actor, now, on_error)
    except (csv.Error, UnicodeDecodeError) as exc:
        message = report.error(row_number + 1, f"the file can't be read past here ({exc})")
        if on_error:
            on_error(message)
    if not report.ok:
        report.added = 0
    if not report.ok or dry_run:
        db.rollback()
    return report


def _write(
    db: Session,
    batch: list[_Record],
    source: str,
    report: ImportReport,
    import_ref: str,
    actor: str,
    now: datetime,
    on_error: Callable[[str], None] | None,
) -> None:
    if not batch:
        return
    stored = {
        row.usage_id: row
        for row in db.execute(
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
            ).where(_USAGE.c.source == source, _USAGE.c.usage_id.in_({r.usage_id for r in batch}))
        )
    }
    fresh: dict[str, _Record] = {}
    for record in batch:
        earlier = fresh.get(record.usage_id)
        if earlier is not None:
            same, where = earlier.compare() == record.compare(), f"row {earlier.row}"
            in_file = True
        elif record.usage_id in stored:
            old = stored[record.usage_id]
            same = (
                old.customer_id,
                old.service_id,
                old.usage_date,
                old.description,
                old.quantity,
                old.unit_cost,
                old.unit_price if old.price_given else None,
                old.taxable,
            ) == record.compare()
            in_file = old.import_ref == import_ref
            where = f"row {old.source_row}" if in_file else f"row {old.source_row} of an earlier import"
        else:
            fresh[record.usage_id] = record
            continue
        if same:
            report.already += 1
        elif in_file:
            message = report.error(
                record.row, f"usage id {record.usage_id} is also on {where} with different values"
            )
            if on_error:
                on_error(message)
        else:
            report.change(record.row, f"usage id {record.usage_id} differs from {where}")
    if fresh:
        # What every row of this import shares goes into the statement once, not into each row.
        shared = insert(_USAGE).values(source=source, import_ref=import_ref, created_at=now, created_by=actor)
        try:
            _insert(db, shared, fresh)
        except IntegrityError:
            # Two imports of one file at once: the unique (source, usage_id) index lets one win.
            db.rollback()
            raise ImportConflict(
                "Another import stored some of these usage ids meanwhile; nothing was imported from this "
                "file. Import it again: the rows already stored will be skipped."
            ) from None
        report.added += len(fresh)


def _insert(db: Session, statement: Any, fresh: Mapping[str, _Record]) -> None:
    db.execute(
        statement,
        [
            {
                "usage_id": r.usage_id,
                "customer_id": r.customer_id,
                "service_id": r.service_id,
                "usage_date": r.usage_date,
                "description": r.description,
                "quantity": r.quantity,
                "unit_cost": r.unit_cost,
                "unit_price": r.unit_price,
                "price_given": r.price_given,
                "taxable": r.taxable,
                "source_row": r.row,
            }
            for r in fresh.values()
        ],
    )


class _RowParser:
    """Turns one row's cells into a `_Record`, or raises `_RowError` with the reason.

    Lookups are cached per distinct value, so memory follows the number of customers and
    services the file names, never its number of rows.
    """

    def __init__(self, db: Session, mapping: UsageMapping, header: list[str]) -> None:
        self.db = db
        self.mapping = mapping
        headers = [h.strip() for h in header]
        if headers and headers[0].startswith("\ufeff"):
            headers[0] = headers[0][1:]
        missing = [col for col in mapping.columns.values() if col not in headers]
        present = {name for name, col in mapping.columns.items() if col in headers} | set(mapping.defaults)
        lacking = [n for n in ("usage_id", "quantity", "unit_cost", "description") if n not in present]
        if not present & {"date", "period"}:
            lacking.append("date or period")
        if not present & set(WHO):
            lacking.append("customer (" + ", ".join(WHO) + ")")
        if (missing and mapping.require_all_columns) or lacking:
            raise MappingError(
                f"The file's header doesn't fit the mapping ({mapping.name}): "
                + (f"no column(s) {', '.join(repr(m) for m in missing)}; " if missing else "")
                + (f"nothing for {', '.join(lacking)}; " if lacking else "")
                + f"its columns are: {', '.join(headers)}."
            )
        at = {name: headers.index(col) for name, col in mapping.columns.items() if col in headers}
        self.slots = tuple((name, at.get(name), mapping.defaults.get(name, "")) for name in FIELDS)
        self.width = len(headers)
        self.iso = mapping.date_format == "%Y-%m-%d"
        self.dates: dict[str, date] = {}
        self.customers: dict[tuple[str, str], tuple[int | None, int | None, str | None]] = {}
        self.loaded: set[str] = set()
        self.margins: dict[int | None, Decimal | None] = {}
        # Bounded caches of what repeats row after row in a supplier file (rates, quantities).
        self.numbers: dict[tuple[str, str], Decimal | str | None] = {}
        self.prices: dict[tuple[Decimal, Decimal], Decimal] = {}

    def __call__(self, row: int, cells: list[str]) -> _Record:
        width = len(cells)
        v = {  # every field's text: the cell, else the mapping's default, else ""
            name: (cells[index].strip() if index is not None and index < width else "") or default
            for name, index, default in self.slots
        }
        problems: list[str] = []
        usage_id = v["usage_id"]
        if not usage_id:
            problems.append("no usage id")
        elif len(usage_id) > 100:
            problems.append("usage id is longer than 100 characters")
        description = v["description"]
        if not description:
            problems.append("no description")
        elif len(description) > 200:
            problems.append("description is longer than 200 characters")
        day = self._day(v, problems)
        quantity = self._number(v, "quantity", problems, limit=QUANTITY_MAX, places=4)
        cost = self._number(v, "unit_cost", problems, limit=UNIT_PRICE_LIMIT, places=4)
        price = self._number(v, "unit_price", problems, limit=UNIT_PRICE_LIMIT, places=4, optional=True)
        taxable = self._taxable(v, problems)
        customer_id, service_id = self._who(v, problems)
        if quantity is not None and quantity == 0:
            problems.append("quantity is 0")
        given = price is not None
        if not given and cost is not None and customer_id is not None and not problems:
            margin = self._margin(service_id)
            if margin is None:
                problems.append("no unit price, and no margin to price the cost with (set a default margin)")
            else:
                price = self._price(cost, margin)
        if problems:
            raise _RowError("; ".join(problems))
        return _Record(
            row, usage_id, customer_id, service_id, day, description, quantity, cost, price, given, taxable
        )  # type: ignore[arg-type]

    def _price(self, cost: Decimal, margin: Decimal) -> Decimal:
        key = (cost, margin)
        price = self.prices.get(key)
        if price is None:
            if len(self.prices) > 4096:
                self.prices.clear()
            price = self.prices[key] = price_from_cost(cost, margin)
        return price

    def _day(self, v: dict[str, str], problems: list[str]) -> date | None:
        text = v["date"]
        if text:
            known = self.dates.get(text)
            if known is not None:
                return known
            try:
                day = (
                    date.fromisoformat(text)
                    if self.iso
                    else datetime.strptime(text, self.mapping.date_format).date()
                )
            except ValueError:
                problems.append(
                    f"date {text!r} is not a date like {date(2026, 11, 30).strftime(self.mapping.date_format)}"
                )
                return None
            if len(self.dates) > 4096:
                self.dates.clear()
            self.dates[text] = day
            return day
        text = v["period"]
        match = _PERIOD.fullmatch(text)
        if match and 1 <= int(match[2]) <= 12:
            return date(int(match[1]), int(match[2]), 1)
        problems.append(f"period {text!r} is not a month like 2026-11" if text else "no date or period")
        return None

    def _number(
        self,
        v: dict[str, str],
        name: str,
        problems: list[str],
        *,
        limit: Decimal,
        places: int,
        optional: bool = False,
    ) -> Decimal | None:
        text = v[name]
        if not text:
            if not optional:
                problems.append(f"no {name.replace('_', ' ')}")
            return None
        key = (name, text)
        known = self.numbers.get(key)
        if known is None:
            if len(self.numbers) > 4096:
                self.numbers.clear()
            found: list[str] = []
            parsed = self._parse_number(text, name, found, limit=limit, places=places)
            known = self.numbers[key] = found[0] if parsed is None else parsed
        if isinstance(known, str):
            problems.append(known)
            return None
        return known

    def _parse_number(
        self, text: str, name: str, problems: list[str], *, limit: Decimal, places: int
    ) -> Decimal | None:
        cleaned = text.removeprefix("$").replace(",", "") if ("," in text or "$" in text) else text
        if not _NUMBER.fullmatch(cleaned):
            what = "negative" if cleaned.startswith("-") else "not a number"
            problems.append(f"{name.replace('_', ' ')} {text!r} is {what}")
            return None
        try:
            value = Decimal(cleaned)
        except InvalidOperation:  # pragma: no cover - the pattern excludes it
            problems.append(f"{name.replace('_', ' ')} {text!r} is not a number")
            return None
        exponent = value.as_tuple().exponent
        if (
            isinstance(exponent, int)
            and exponent < -places
            and value != value.quantize(Decimal(1).scaleb(-places))
        ):
            problems.append(f"{name.replace('_', ' ')} {text!r} has more than {places} decimal places")
            return None
        if value >= limit:
            problems.append(f"{name.replace('_', ' ')} {text} is too large")
            return None
        return value

    def _taxable(self, v: dict[str, str], problems: list[str]) -> bool:
        text = v["taxable"].lower()
        if not text or text in _TRUE:
            return True
        if text in _FALSE:
            return False
        problems.append(f"taxable {text!r} is not yes or no")
        return True

    def _who(self, v: dict[str, str], problems: list[str]) -> tuple[int | None, int | None]:
        """(customer, service) from the first of id, PSA reference, exact name, service reference."""
        service_ref = v["service_reference"]
        for kind in ("customer_id", "psa_reference", "customer"):
            text = v[kind]
            if text:
                customer_id, _, reason = self._lookup(kind, text)
                if reason:
                    problems.append(reason)
                    return None, None
                service_id = None
                if service_ref:
                    owner, service_id, reason = self._lookup("service_reference", service_ref)
                    if reason or owner != customer_id:
                        problems.append(reason or f"service {service_ref!r} is not this customer's")
                        return None, None
                return customer_id, service_id
        if service_ref:
            customer_id, service_id, reason = self._lookup("service_reference", service_ref)
            if reason:
                problems.append(reason)
            return customer_id, service_id
        problems.append("no customer (id, name or PSA reference) or service reference")
        return None, None

    def _lookup(self, kind: str, text: str) -> tuple[int | None, int | None, str | None]:
        key = (kind, text)
        found = self.customers.get(key)
        if found is None:
            if kind not in self.loaded:
                self._load(kind)
            found = self.customers.get(key)
            if found is None:  # unknown, ambiguous or archived: one query says which
                found = self.customers[key] = self._query(kind, text)
        return found

    def _load(self, kind: str) -> None:
        """Every unambiguous live match of one kind in one query (memory ~ customers, not rows)."""
        self.loaded.add(kind)
        c = EndCustomer.__table__.c  # type: ignore[attr-defined]
        s = Service.__table__.c  # type: ignore[attr-defined]
        pairs: list[tuple[str, tuple[int, int | None]]] = []
        if kind == "customer":
            rows = self.db.execute(select(c.company_name, c.id).where(c.archived_at.is_(None)))
            pairs = [(name, (cid, None)) for name, cid in rows]
        elif kind == "psa_reference":
            rows = self.db.execute(
                select(c.psa_ref, c.id).where(c.psa_ref.is_not(None), c.archived_at.is_(None))
            )
            pairs = [(ref, (cid, None)) for ref, cid in rows]
        elif kind == "service_reference":
            live = select(s.reference, s.psa_reference, s.customer_id, s.id).join(
                EndCustomer.__table__, c.id == s.customer_id
            )  # type: ignore[attr-defined]
            rows = self.db.execute(live.where(s.status != "cancelled", c.archived_at.is_(None)))
            for reference, psa_reference, cid, sid in rows:
                pairs += [(ref, (cid, sid)) for ref in {reference, psa_reference} if ref]
        seen: dict[str, tuple[int, int | None] | None] = {}
        for text, match in pairs:
            seen[text] = match if text not in seen else None  # twice: ambiguous, let _query explain
        for text, match in seen.items():
            if match is not None:
                self.customers[(kind, text)] = (match[0], match[1], None)

    def _query(self, kind: str, text: str) -> tuple[int | None, int | None, str | None]:
        c = EndCustomer.__table__.c  # type: ignore[attr-defined]
        if kind == "service_reference":
            s = Service.__table__.c  # type: ignore[attr-defined]
            rows = self.db.execute(
                select(s.id, s.customer_id)
                .where((s.reference == text) | (s.psa_reference == text), s.status != "cancelled")
                .limit(2)
            ).all()
            if len(rows) != 1:
                return (
                    None,
                    None,
                    (
                        f"no active service has reference {text!r}"
                        if not rows
                        else f"several services have reference {text!r}"
                    ),
                )
            archived = self.db.execute(select(c.archived_at).where(c.id == rows[0].customer_id)).scalar_one()
            if archived is not None:
                return None, None, f"the customer of service {text!r} is archived"
            return rows[0].customer_id, rows[0].id, None
        if kind == "customer_id":
            if not text.isdigit():
                return None, None, f"customer id {text!r} is not a number"
            condition, label = c.id == int(text), f"customer id {text}"
        elif kind == "psa_reference":
            condition, label = c.psa_ref == text, f"PSA reference {text!r}"
        else:
            condition, label = (c.company_name == text) & c.archived_at.is_(None), f"customer {text!r}"
        rows = self.db.execute(select(c.id, c.archived_at).where(condition).limit(2)).all()
        if not rows:
            return None, None, f"no customer with {label}"
        if len(rows) > 1:
            return None, None, f"several customers have {label}"
        if rows[0].archived_at is not None:
            return None, None, f"{label} is archived"
        return rows[0].id, None, None

    def _margin(self, service_id: int | None) -> Decimal | None:
        if service_id not in self.margins:
            self.margins[service_id] = margin_for(self.db, service_id=service_id)
        return self.margins[service_id]
