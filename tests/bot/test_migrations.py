"""The models and the migrations must describe the same schema, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import models
from bot import migrate
from core.db import make_engine
from tests.harness.databases import POSTGRES_SKIP, fresh_postgres_database, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    server = postgres_url()
    if server is None:
        pytest.skip(POSTGRES_SKIP)
    with fresh_postgres_database(server) as url:
        yield url


def test_upgrade_creates_every_table_and_is_idempotent(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    before, after = migrate.upgrade(engine)
    assert before is None
    assert after == migrate.head_revision(engine)
    assert set(models.metadata.tables) <= set(inspect(engine).get_table_names())
    assert migrate.upgrade(engine) == (after, after)
    engine.dispose()


def test_models_and_migrations_agree(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, models.metadata)
    engine.dispose()
    assert diff == [], f"models differ from migrations; write a migration: {diff}"
