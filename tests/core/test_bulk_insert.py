"""Many rows at once (COPY on PostgreSQL): the same rows, defaults and errors as a Core insert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.bulk_insert import insert_rows
from models.invoices import InvoiceSeries
from models.system import AuditLog

_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]
_SERIES = InvoiceSeries.__table__  # type: ignore[attr-defined]
SYDNEY = timezone(timedelta(hours=11))


def _audit_rows(actor: str) -> list[dict[str, object]]:
    """Values that need their column type's conversion: an aware non-UTC time, a JSON document,
    text COPY has to escape (tab, newline, backslash, quotes) and a missing value (None in JSON)."""
    return [
        {
            "at": datetime(2026, 12, 1, 9, 30, n, tzinfo=SYDNEY),
            "actor": actor,
            "entity": "invoice",
            "entity_id": str(n),
            "action": "create",
            "changes": {
                "total": str(Decimal("844.52") + n),
                "note": 'tab\there, line\nbreak, back\\slash "quoted" – dash',
                "empty": None,
                "list": [n, "x"],
            },
        }
        for n in range(3)
    ]


def _read(db: Session, actor: str) -> list[tuple[object, ...]]:
    rows = db.execute(
        select(_AUDIT.c.at, _AUDIT.c.entity_id, _AUDIT.c.action, _AUDIT.c.changes)
        .where(_AUDIT.c.actor == actor)
        .order_by(_AUDIT.c.id)
    ).all()
    return [tuple(row) for row in rows]


def test_rows_read_back_exactly_as_a_core_insert_writes_them(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        insert_rows(db, _AUDIT, _audit_rows("bulk"))
        db.execute(insert(_AUDIT), _audit_rows("core"))
    with Session(engine) as db:
        bulk, core = _read(db, "bulk"), _read(db, "core")
        ids = db.execute(select(_AUDIT.c.id).where(_AUDIT.c.actor == "bulk")).scalars().all()
    assert bulk == core and len(bulk) == 3
    assert bulk[0][0] == datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # stored as the same instant, in UTC
    assert bulk[1][3]["note"] == 'tab\there, line\nbreak, back\\slash "quoted" – dash'
    assert len(set(ids)) == 3 and None not in ids  # the id left out came from the column's default


def test_nothing_to_insert_is_no_statement(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        insert_rows(db, _AUDIT, [])
    with Session(engine) as db:
        assert db.execute(select(_AUDIT.c.id)).first() is None


def test_a_unique_violation_is_an_integrity_error_and_the_rollback_takes_every_row_back(
    engine: Engine,
) -> None:
    with pytest.raises(IntegrityError), Session(engine) as db, db.begin():
        insert_rows(db, _AUDIT, _audit_rows("gone"))
        insert_rows(db, _SERIES, [{"prefix": "INV-", "next_number": 1}, {"prefix": "INV-", "next_number": 2}])
    with Session(engine) as db:
        assert db.execute(select(_SERIES.c.prefix)).first() is None
        assert _read(db, "gone") == []


def test_a_column_left_out_gets_its_python_default_as_with_a_core_insert(engine: Engine) -> None:
    """`invoice_series` rows without `next_number`: the model's default (1) is computed in Python."""
    assert _SERIES.c.next_number.default is not None  # what this test relies on
    with Session(engine) as db, db.begin():
        insert_rows(db, _SERIES, [{"prefix": "A-"}, {"prefix": "B-"}])
    with Session(engine) as db:
        rows = db.execute(select(_SERIES.c.prefix, _SERIES.c.next_number).order_by(_SERIES.c.prefix)).all()
    assert [tuple(r) for r in rows] == [("A-", 1), ("B-", 1)]
