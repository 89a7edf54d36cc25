"""Engines and sessions. One engine per process, built from Settings; no module-level globals."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


# Execution option naming a read-only unit of work (see `session_scope(write=False)`).
READ_ONLY: Final = "rebill_read_only"


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_ms / 1000},
            **kwargs,
        )
        event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout_ms=sqlite_busy_timeout_ms))
        # pysqlite's own transaction handling defers BEGIN until the first write, which lets two
        # writers both read stale rows (and then fail to upgrade their lock); BEGIN IMMEDIATE takes
        # the write lock up front, so concurrent writers queue on busy_timeout instead. A unit of
        # work declared read-only begins DEFERRED: under WAL it reads a snapshot and never waits for
        # a writer (a bill run, a CSV import) to finish.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout_ms: int) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener own transactions
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit if the block finishes, roll back if it raises.

    `write=False` declares the block read-only: on SQLite it starts a deferred transaction that
    reads alongside a writer instead of queueing behind it (PostgreSQL reads never wait anyway).
    """
    bind = engine if write else engine.execution_options(**{READ_ONLY: True})
    session = Session(bind, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
