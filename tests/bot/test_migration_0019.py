"""Migration 0019 rewrites the stored name keys under the one `name_key` rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot import migrate
from core.db import make_engine


def _insert(db: Connection, table: str, **given: Any) -> None:
    """A row with every NOT NULL column of the 0018 schema filled, `given` winning."""
    columns = db.execute(text(f"PRAGMA table_info({table})")).all()
    values = {c.name: _filler(c.type) for c in columns if c.notnull and not c.pk} | given
    names, marks = ", ".join(values), ", ".join(":" + n for n in values)
    db.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)  # noqa: S608


def _filler(sql_type: str) -> object:
    kind = sql_type.upper()
    if "INT" in kind or "BOOL" in kind or "NUMERIC" in kind:
        return 0
    if "DATE" in kind:
        return "2026-11-01 00:00:00"
    return "x"


def test_keys_with_runs_of_spaces_are_rewritten_and_a_clash_keeps_its_old_key(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0018")
    with engine.begin() as db:
        _insert(
            db,
            "psa_company",
            id=1,
            psa_kind="autotask",
            psa_id="5",
            name="Acme  Dental",
            name_key="acme  dental",
        )
        _insert(db, "psa_company", id=2, psa_kind="autotask", psa_id="6", name="Bravo", name_key="bravo")
        _insert(
            db, "end_customer", id=1, company_name="Acme  Dental", name_key="acme  dental", archived_at=None
        )
        _insert(
            db, "end_customer", id=2, company_name="Bravo  Legal", name_key="bravo  legal", archived_at=None
        )
        _insert(
            db, "end_customer", id=3, company_name="Bravo Legal", name_key="bravo legal", archived_at=None
        )
    migrate.upgrade(engine)
    with engine.connect() as db:
        psa = db.execute(text("SELECT id, name_key FROM psa_company ORDER BY id")).all()
        ours = db.execute(text("SELECT id, name_key FROM end_customer ORDER BY id")).all()
    assert [tuple(r) for r in psa] == [(1, "acme dental"), (2, "bravo")]
    # Customer 2 would clash with customer 3 among active names: it keeps its key until renamed.
    assert [tuple(r) for r in ours] == [(1, "acme dental"), (2, "bravo  legal"), (3, "bravo legal")]
    engine.dispose()
