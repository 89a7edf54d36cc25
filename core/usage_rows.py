"""One row of a usage file checked and turned into a `Row`, the form the database takes as it is.

Two paths, one set of rules
    `RowParser.check` is the only place a row's fields are judged, and the only place a reason is
    worded. Whatever it accepts it also remembers, keyed by the raw cell text (a customer's name,
    a date, a rate): a supplier file repeats the same few hundred values a million times. The fast
    path (`RowParser.parse`) only replays those remembered answers; the first cell it has not seen
    before (or a short row, or a bad one) sends the whole row to `check`. So the fast path can
    never accept what `check` would refuse, and every reason still comes from one place.

Why rows are database text (ISO dates, plain decimal numbers) rather than `date` and `Decimal`
    Both databases take those as they are (`core.usage_writer`), so a million rows need no
    per-row conversion on the way out. `same_charge` turns them back for the rare comparison.

Memory follows the number of distinct values (each cache is capped at `REMEMBER` entries and
starts over when full), never the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import select
from sqlmodel import Session

from core.charge_validation import QUANTITY_MAX, UNIT_PRICE_LIMIT
from core.money import price_from_cost
from core.pricing import margin_for
from core.usage_mapping import FIELDS, WHO, MappingError, UsageMapping
from models.charges import Service
from models.customers import EndCustomer

# usage_id, customer_id, service_id, usage_date (ISO text), description, quantity, unit_cost,
# unit_price (plain decimal text), price_given, taxable, source_row: `core.usage_writer.ROW_COLUMNS`.
Row = tuple[str, int, int | None, str, str, str, str, str, bool, bool, int]

REMEMBER: Final = 16_384
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_TRUE = frozenset({"true", "yes", "y", "1", "gst", "taxable"})
_FALSE = frozenset({"false", "no", "n", "0", "gst free", "gst-free", "free", "exempt"})
_PERIOD = re.compile(r"([0-9]{4})-([0-9]{2})")


class RowError(Exception):
    """The row is bad; the message names every problem found in it."""


def same_charge(row: Row) -> tuple[Any, ...]:
    """What makes two rows of one charge id the same charge (a derived price is not)."""
    _, customer_id, service_id, day, description, quantity, cost, price, given, taxable, _ = row
    return (
        customer_id,
        service_id,
        date.fromisoformat(day),
        description,
        Decimal(quantity),
        Decimal(cost),
        Decimal(price) if given else None,
        taxable,
    )


def _blank(_cells: list[str]) -> str:
    return ""


def _cells(*indexes: int | None) -> Callable[[list[str]], Any]:
    """The raw text of these columns (one: a str, several: a tuple); none of them: always ""."""
    present = [i for i in indexes if i is not None]
    return itemgetter(*present) if present else _blank


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= REMEMBER:
        cache.clear()
    cache[key] = value


class RowParser:
    """Turns one row's cells into a `Row`, or raises `RowError` with the reason (see the module)."""

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
        self.iso = mapping.date_format == "%Y-%m-%d"
        self.customers: dict[tuple[str, str], tuple[int | None, int | None, str | None]] = {}
        self.loaded: set[str] = set()
        self.margins: dict[int | None, Decimal | None] = {}
        self.numbers: dict[tuple[str, str], Decimal | str] = {}  # parsed, or why not
        self.prices: dict[tuple[Decimal, Decimal], Decimal] = {}
        # What the fast path replays: raw cell text -> the accepted value, by field.
        self.cell = {
            "usage_id": _cells(at.get("usage_id")),
            "description": _cells(at.get("description")),
            "who": _cells(*(at.get(name) for name in WHO)),
            "day": _cells(at.get("date"), at.get("period")),
            "quantity": _cells(at.get("quantity")),
            "unit_cost": _cells(at.get("unit_cost")),
            "unit_price": _cells(at.get("unit_price")),
            "taxable": _cells(at.get("taxable")),
        }
        self.needs = max(at.values(), default=-1) + 1  # a shorter row always takes the slow path
        self.known: dict[str, dict[Any, Any]] = {
            name: {} for name in ("who", "day", "quantity", "unit_cost", "unit_price", "derived", "taxable")
        }
        self.parse = self._fast_path()

    def __call__(self, row: int, cells: list[str]) -> Row | None:
        return self.parse(row, cells)

    def _fast_path(self) -> Callable[[int, list[str]], Row | None]:
        """`check`'s remembered answers, replayed. Everything the loop touches is a closure cell
        (the cheapest lookup CPython has); any miss is a `LookupError` that hands the row to `check`."""
        check = self.check
        usage_id_of, description_of = self.cell["usage_id"], self.cell["description"]
        who_of, day_of = self.cell["who"], self.cell["day"]
        quantity_of, cost_of = self.cell["quantity"], self.cell["unit_cost"]
        price_of, taxable_of = self.cell["unit_price"], self.cell["taxable"]
        who, days, quantities = self.known["who"], self.known["day"], self.known["quantity"]
        costs, prices, derived, taxables = (
            self.known["unit_cost"],
            self.known["unit_price"],
            self.known["derived"],
            self.known["taxable"],
        )
        no_description = self.mapping.defaults.get("description", "")

        def parse(row: int, cells: list[str]) -> Row | None:
            try:
                usage_id = usage_id_of(cells).strip()
                description = description_of(cells).strip() or no_description
                if (
                    not usage_id
                    or len(usage_id) > 100
                    or not description
                    or len(description) > 200
                    or "\x00" in usage_id
                    or "\x00" in description
                ):
                    return check(row, cells)
                customer_id, service_id = who[who_of(cells)]
                day = days[day_of(cells)]
                quantity = quantities[quantity_of(cells)]
                cost_text = cost_of(cells)
                cost = costs[cost_text]
                price = prices[price_of(cells)]
                given = price is not None
                if not given:
                    price = derived[cost_text, service_id]
                taxable = taxables[taxable_of(cells)]
            except LookupError:
                return check(row, cells)
            return (
                usage_id,
                customer_id,
                service_id,
                day,
                description,
                quantity,
                cost,
                price,
                given,
                taxable,
                row,
            )

        return parse

    def check(self, row: int, cells: list[str]) -> Row | None:
        """Every rule for one row (None: a blank row, skipped); remembers what it accepted."""
        if not any(cells):  # a blank line, or one of only separators
            return None
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
        elif "\x00" in usage_id:  # PostgreSQL text can't hold one
            problems.append("usage id has a NUL character in it")
        description = v["description"]
        if not description:
            problems.append("no description")
        elif len(description) > 200:
            problems.append("description is longer than 200 characters")
        elif "\x00" in description:
            problems.append("description has a NUL character in it")
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
            raise RowError("; ".join(problems))
        assert day is not None and quantity is not None and cost is not None and price is not None
        assert customer_id is not None
        result: Row = (
            usage_id,
            customer_id,
            service_id,
            day.isoformat(),
            description,
            f"{quantity:f}",
            f"{cost:f}",
            f"{price:f}",
            given,
            taxable,
            row,
        )
        if width >= self.needs:
            cell, known = self.cell, self.known
            _remember(known["who"], cell["who"](cells), (customer_id, service_id))
            _remember(known["day"], cell["day"](cells), result[3])
            _remember(known["quantity"], cell["quantity"](cells), result[5])
            _remember(known["unit_cost"], cell["unit_cost"](cells), result[6])
            _remember(known["unit_price"], cell["unit_price"](cells), result[7] if given else None)
            if not given:
                _remember(known["derived"], (cell["unit_cost"](cells), service_id), result[7])
            _remember(known["taxable"], cell["taxable"](cells), taxable)
        return result

    def _price(self, cost: Decimal, margin: Decimal) -> Decimal:
        key = (cost, margin)
        price = self.prices.get(key)
        if price is None:
            if len(self.prices) >= REMEMBER:
                self.prices.clear()
            price = self.prices[key] = price_from_cost(cost, margin)
        return price

    def _day(self, v: dict[str, str], problems: list[str]) -> date | None:
        text = v["date"]
        if text:
            try:
                return (
                    date.fromisoformat(text)
                    if self.iso
                    else datetime.strptime(text, self.mapping.date_format).date()
                )
            except ValueError:
                problems.append(
                    f"date {text!r} is not a date like {date(2026, 11, 30).strftime(self.mapping.date_format)}"
                )
                return None
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
            found: list[str] = []
            parsed = self._parse_number(text, name, found, limit=limit, places=places)
            known = found[0] if parsed is None else parsed
            _remember(self.numbers, key, known)
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
