"""Every migration can be undone: up to each revision, down again step by step, then up to head,
on SQLite and PostgreSQL. After each step down the schema is exactly what the way up had there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

import models
from bot import migrate
from core.db import make_engine
from tests.harness.databases import POSTGRES_SKIP, fresh_postgres_database, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'updown.db'}")
        yield engine
        engine.dispose()
        return
    server = postgres_url()
    if server is None:
        pytest.skip(POSTGRES_SKIP)
    with fresh_postgres_database(server) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def step(engine: Engine, direction: str, revision: str) -> None:
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def schema(engine: Engine) -> dict[str, Any]:
    """Tables, columns, indexes, unique and foreign keys: what a migration may change."""
    inspector = inspect(engine)
    out: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        out[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
        }
    return out


def test_up_down_up_through_every_revision(empty_engine: Engine) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_engine))
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]  # oldest first
    assert len(revisions) >= 5

    seen = {"base": schema(empty_engine)}
    for revision in revisions:
        step(empty_engine, "upgrade", revision)
        seen[revision] = schema(empty_engine)

    for revision, below in zip(reversed(revisions), ["base", *revisions][::-1][1:], strict=True):
        step(empty_engine, "downgrade", "-1")
        assert migrate.current_revision(empty_engine) == (None if below == "base" else below)
        assert schema(empty_engine) == seen[below], f"downgrade of {revision} left a different schema"
    assert seen["base"] == {}

    step(empty_engine, "upgrade", "head")
    assert schema(empty_engine) == seen[revisions[-1]]
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.metadata) == []
