"""Bulk writing of checked usage rows: the raw driver's fastest path on each database.

Why not SQLAlchemy's executemany: at a million rows its per-row parameter building cost several
times what the database itself spends (issue 16's bench). The rows arrive already in the
database's own text forms (ISO dates, plain decimal numbers; see `core.usage_rows`), so the
driver has nothing left to convert:

- SQLite: `sqlite3` executemany of one prepared INSERT of `PER_STATEMENT` rows, a batch in index
  order, with a bigger page cache while the import runs (each choice measured, see below). A
  text number stored in a NUMERIC column becomes the same INTEGER or REAL that SQLAlchemy's float
  conversion would have stored.
- PostgreSQL: one COPY per batch in text format (psycopg 3's `cursor.copy()`), several times
  cheaper than INSERTs for the client and the server alike.

Both run on the session's own connection, so they are inside its transaction: the caller's
rollback (a bad row somewhere, a dry run) takes them back like any other write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any, Final

from sqlmodel import Session

from models.usage import UsageRecord

# The order of a checked row (`core.usage_rows.Row`), then what every row of one import shares.
ROW_COLUMNS: Final = (
    "usage_id",
    "customer_id",
    "service_id",
    "usage_date",
    "description",
    "quantity",
    "unit_cost",
    "unit_price",
    "price_given",
    "taxable",
    "source_row",
)
SHARED_COLUMNS: Final = ("source", "import_ref", "created_at", "created_by")
_USAGE = UsageRecord.__table__  # type: ignore[attr-defined]
_COLUMNS: Final = ", ".join(ROW_COLUMNS + SHARED_COLUMNS)
# SQLite: rows go PER_STATEMENT to one INSERT, and what they share is bound once for all of them
# (numbered parameters: row k's own values are ?(11k+1)..?(11k+11), the shared ones follow the
# last row): a quarter less work per row than one statement a row, and 884 parameters, under
# SQLite's oldest limit of 999. Only the constant column names above are spliced into the SQL;
# every value is a parameter.
PER_STATEMENT: Final = 80


def _sqlite_insert(rows: int) -> str:
    width = len(ROW_COLUMNS)
    shared = ", ".join(f"?{rows * width + k + 1}" for k in range(len(SHARED_COLUMNS)))
    values = ", ".join(
        "(" + ", ".join(f"?{r * width + k + 1}" for k in range(width)) + f", {shared})" for r in range(rows)
    )
    return f"INSERT INTO usage_record ({_COLUMNS}) VALUES {values}"  # noqa: S608


_SQLITE_INSERT_ONE: Final = _sqlite_insert(1)
_SQLITE_INSERT_MANY: Final = _sqlite_insert(PER_STATEMENT)
# SQLite: a batch is inserted in (customer, date) order, so the rows that land on one page of the
# (customer, date) index arrive together (ids still follow the file within a customer and day,
# which is the order a bill lists them in).
_INDEX_ORDER: Final = itemgetter(1, 3)
_POSTGRES_COPY: Final = f"COPY usage_record ({_COLUMNS}) FROM STDIN"
_POSTGRES_TAKEN: Final = "SELECT 1 FROM usage_record WHERE source = %s AND usage_id = ANY(%b) LIMIT 1"
# SQLite's page cache while an import writes (KiB, negative as PRAGMA cache_size wants it). The
# default 2 MB can't hold the (customer, date) index a big file inserts into all over, and every
# spilled page is written and read back: 64 MB took a million rows from ~13 s to ~8 s of CPU.
# Only for the import's own connection, and put back when it ends (`finish`).
IMPORT_CACHE_KIB: Final = 65_536
# COPY's text format: these four characters are the only ones that need a backslash.
_COPY_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL: Final = "\\N"


class UsageWriter:
    """Inserts batches of checked rows for one import; `IntegrityError` is the driver's own."""

    def __init__(
        self, db: Session, *, source: str, import_ref: str, created_at: datetime, actor: str
    ) -> None:
        connection = db.connection()
        self.dialect = connection.dialect
        self.raw: Any = connection.connection.dbapi_connection
        self.IntegrityError: type[Exception] = self.dialect.loaded_dbapi.IntegrityError
        stamp = _USAGE.c.created_at.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        self.shared = (source, import_ref, stamp(created_at) if stamp else created_at, actor)
        self.cache_kib: int | None = None
        if self.is_sqlite:
            cursor = self.raw.cursor()
            try:
                (self.cache_kib,) = cursor.execute("PRAGMA cache_size").fetchone()
                cursor.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
            finally:
                cursor.close()

    def finish(self) -> None:
        """Give the connection back its own cache size; call before the session lets it go."""
        if self.cache_kib is not None:
            self._run(f"PRAGMA cache_size = {int(self.cache_kib)}")
            self.cache_kib = None

    def refresh_statistics(self) -> None:
        """After a large import on PostgreSQL, let the planner see the new rows now rather than at
        autovacuum's next pass: with stale statistics the bill run's usage claim (a join on the
        customer and date index) is planned as a scan of the whole table, page after page."""
        if self.dialect.name == "postgresql":
            self._run("ANALYZE usage_record")

    @property
    def is_sqlite(self) -> bool:
        return bool(self.dialect.name == "sqlite")

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert every row; a unique or foreign key violation raises and inserts none of them
        (the caller rolls the transaction or its savepoint back)."""
        if not rows:
            return
        cursor = self.raw.cursor()
        try:
            if self.is_sqlite:
                shared = self.shared
                ordered = sorted(rows, key=_INDEX_ORDER)
                whole = len(ordered) - len(ordered) % PER_STATEMENT
                cursor.executemany(
                    _SQLITE_INSERT_MANY,
                    [
                        (*chain.from_iterable(ordered[at : at + PER_STATEMENT]), *shared)
                        for at in range(0, whole, PER_STATEMENT)
                    ],
                )
                cursor.executemany(_SQLITE_INSERT_ONE, [row + shared for row in ordered[whole:]])
            else:
                with cursor.copy(_POSTGRES_COPY) as copy:
                    copy.write(_copy_text(rows, self.shared))
        finally:
            cursor.close()

    def any_taken(self, source: str, ids: Sequence[str]) -> bool:
        """PostgreSQL: whether any of `ids` is stored (committed, or earlier in this transaction)."""
        cursor = self.raw.cursor()
        try:
            cursor.execute(_POSTGRES_TAKEN, (source, list(ids)))
            return cursor.fetchone() is not None
        finally:
            cursor.close()

    def savepoint(self, name: str) -> None:
        self._run(f"SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self._run(f"ROLLBACK TO SAVEPOINT {name}")
        self._run(f"RELEASE SAVEPOINT {name}")

    def release(self, name: str) -> None:
        self._run(f"RELEASE SAVEPOINT {name}")

    def _run(self, sql: str) -> None:
        cursor = self.raw.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()


def _copy_text(rows: Sequence[tuple[Any, ...]], shared: tuple[Any, ...]) -> str:
    """The rows as COPY text: tab-separated, \\N for NULL, t/f, text escaped."""
    source, import_ref, created_at, actor = shared
    tail = "\t".join([_escape(source), _escape(import_ref), str(created_at), _escape(actor)])
    lines = []
    append = lines.append
    for usage_id, customer, service, day, description, quantity, cost, price, given, taxable, row in rows:
        append(
            f"{_escape(usage_id)}\t{customer}\t{_NULL if service is None else service}\t{day}\t"
            f"{_escape(description)}\t{quantity}\t{cost}\t{price}\t{'t' if given else 'f'}\t"
            f"{'t' if taxable else 'f'}\t{row}\t{tail}\n"
        )
    return "".join(lines)


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text
