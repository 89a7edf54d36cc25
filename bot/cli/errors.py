"""The one place where a command's failure becomes what a person reads: one line on stderr and a
non-zero exit code, never a traceback.

`RebillGroup` is the root group's class: every command runs inside its `invoke`, and its
`make_context` covers the root's own arguments, so a new command is covered without doing
anything. Expected failures (a domain error, a bad argument, a missing or malformed setting, an
unreachable or never-migrated database, a file that can't be read) are explained; anything else
is a bug, reported as an error id with the traceback written to the log.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.cli.context import CliContext
from bot.cli.failure import Failure, one_line
from bot.settings import ConfigError, describe_errors
from core.errors import BUSY_MESSAGE, RebillError, error_id

log = logging.getLogger("rebill.cli")
ERROR_LOG = Path(tempfile.gettempdir()) / "rebill-bot-errors.log"
NO_TABLES = "the database has no rebill-bot tables yet: run `rebill-bot db upgrade`"
# PostgreSQL's SQLSTATEs for a table or column that isn't there (SQLite says "no such table/column").
UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"


class RebillGroup(click.Group):
    """A click group whose commands fail in one line (see the module docstring)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except (click.exceptions.Exit, Failure):
            raise
        except click.ClickException as exc:
            raise explain(exc, None) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit, Failure):
            raise
        except Exception as exc:
            raise explain(exc, ctx.find_object(CliContext)) from None


def explain(exc: BaseException, cli: CliContext | None) -> Failure:
    """The Failure to show for `exc`; a bug's traceback goes to the log under an error id."""
    if isinstance(exc, click.UsageError):
        where = f" Try `{exc.ctx.command_path} --help`." if exc.ctx is not None else ""
        return Failure(f"Error: {exc.format_message().rstrip('.')}.{where}", code=exc.exit_code)
    if isinstance(exc, click.ClickException):
        return Failure(f"Error: {exc.format_message()}", code=exc.exit_code)
    if isinstance(exc, RebillError):
        return Failure(exc.user_message, code=1)
    if isinstance(exc, ConfigError):
        return Failure(str(exc), code=2)
    if isinstance(exc, ValidationError):
        return Failure(describe_errors(exc), code=2)
    if isinstance(exc, ArgumentError):  # a DATABASE_URL SQLAlchemy can't use
        return Failure(f"DATABASE_URL is not a database URL ({exc})", code=2)
    if isinstance(exc, SQLAlchemyError):
        return database_failure(exc, cli)
    if isinstance(exc, OSError):  # a file that can't be read or written
        where = f": {exc.filename}" if exc.filename else ""
        return Failure(f"{exc.strerror or exc}{where}", code=1)
    if isinstance(exc, UnicodeDecodeError):  # a file of another encoding (it names no file)
        return Failure(f"The file is not UTF-8 text ({exc.reason} at byte {exc.start}).", code=1)
    if isinstance(exc, ValueError):  # text that does not parse (ValidationError is answered above)
        log.debug("parsing failed", exc_info=exc)
        return Failure(str(exc) or type(exc).__name__, code=1)
    return unexpected(exc)


def database_failure(exc: SQLAlchemyError, cli: CliContext | None) -> Failure:
    """Busy, unmigrated, behind this version or unreachable: say which, and what to do."""
    orig = getattr(exc, "orig", None)
    if "database is locked" in str(orig):  # SQLite's busy_timeout ran out: as Slack says it
        return Failure(BUSY_MESSAGE, code=1)
    state = getattr(orig, "sqlstate", None)
    missing_table = state == UNDEFINED_TABLE or "no such table" in str(orig)
    if missing_table or state == UNDEFINED_COLUMN or "no such column" in str(orig):
        behind = _revision_behind(cli.engine_if_made() if cli is not None else None)
        if behind is not None:
            return Failure(behind, code=1)
        if missing_table:
            return Failure(NO_TABLES, code=1)
    detail = orig if isinstance(exc, DBAPIError) and orig is not None else exc
    return Failure(
        f"Database error: {one_line(str(detail))}. Is DATABASE_URL right, and has `rebill-bot db upgrade` been run?",
        code=1,
    )


def _revision_behind(engine: Any) -> str | None:
    """A database migrated by an older rebill-bot lacks only the newer tables: name both revisions."""
    if engine is None:
        return None
    # Imported here: Alembic is slow to import and only this failure needs it (see cli/database.py).
    from bot.migrate import current_revision, head_revision

    try:
        current, head = current_revision(engine), head_revision(engine)
    except SQLAlchemyError:
        return None
    if current is None or current == head:
        return None
    return f"the database is at revision {current}, this rebill-bot needs {head}: run `rebill-bot db upgrade`"


def unexpected(exc: BaseException) -> Failure:
    """A bug: one line with an error id; the traceback only in the log (the process's log when
    logging is configured, as `serve` does, else ERROR_LOG)."""
    eid = error_id()
    where = _log_traceback(eid, exc)
    return Failure(f"Something went wrong on our side (error id {eid}); the details are in {where}.", code=1)


def _log_traceback(eid: str, exc: BaseException) -> str:
    if logging.getLogger().handlers:
        log.error("unexpected error %s", eid, exc_info=exc)
        return "the log"
    try:
        handler = logging.FileHandler(ERROR_LOG, encoding="utf-8")
    except OSError:
        return "no log (it could not be opened)"
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.propagate = False  # not also to logging's last-resort handler, which is stderr
    try:
        log.error("unexpected error %s", eid, exc_info=exc)
    finally:
        log.removeHandler(handler)
        log.propagate = True
        handler.close()
    return str(ERROR_LOG)
