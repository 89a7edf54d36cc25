"""`CliContext`: what commands share (settings, engine, clock, actor), each made on first use.

Made once per invocation by the root group and handed to commands by `pass_cli`. Nothing is
loaded up front, so a command asks only for what it needs: `invoice list` needs the database and
the clock, never the Slack secrets `serve` demands. Problems with the environment become a
`Failure` here (one line, exit 2), naming the variable to fix.
"""

from __future__ import annotations

import getpass
import os
from functools import cached_property

import click
from dotenv import dotenv_values
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError

from bot.cli.failure import Failure
from bot.settings import (
    HINTS,
    Settings,
    SmtpSettings,
    load_settings,
    load_smtp_settings,
    normalise_database_url,
)
from core.clock import BusinessClock, business_clock, clock_from_env
from core.db import make_engine
from core.mailer import SmtpConfig
from integrations.base import PsaConfigError
from integrations.config import PsaSettings, load_psa_settings

DEFAULT_DATABASE_URL = "sqlite:///./rebill.db"
SMTP_MISSING = "SMTP is not configured: set SMTP_HOST and REBILL_FROM_EMAIL (see README.md)."


class CliContext:
    """One invocation's shared parts. `close()` (called by click when the command ends) releases
    the engine's connections, so a long test session or a script looping over commands leaks none."""

    def __init__(self, dotenv_path: str = ".env") -> None:
        self._dotenv_path = dotenv_path

    def env(self, name: str) -> str | None:
        """A variable from the environment, else from `.env` in the working directory (as the
        settings classes read them), for commands that need one value and no settings class."""
        return os.environ.get(name) or self._dotenv.get(name)

    @cached_property
    def _dotenv(self) -> dict[str, str | None]:
        return dotenv_values(self._dotenv_path)

    @cached_property
    def settings(self) -> Settings:
        """Every setting `serve` needs (Slack included); ConfigError if any is missing or bad."""
        return load_settings()

    @cached_property
    def smtp_settings(self) -> SmtpSettings:
        return load_smtp_settings()

    @property
    def smtp(self) -> SmtpConfig | None:
        """The mail server, or None when SMTP_HOST is unset."""
        return self.smtp_settings.smtp

    def require_smtp(self) -> SmtpConfig:
        smtp = self.smtp
        if smtp is None:
            raise Failure(SMTP_MISSING, code=2)
        return smtp

    @cached_property
    def psa(self) -> PsaSettings:
        try:
            return load_psa_settings()
        except PsaConfigError as exc:
            raise Failure(exc.user_message, code=2) from None

    @cached_property
    def database_url(self) -> str:
        """DATABASE_URL alone (the database commands must not demand Slack secrets)."""
        url = self.env("DATABASE_URL") or DEFAULT_DATABASE_URL
        try:
            return normalise_database_url(url)
        except ValueError as exc:
            raise Failure(f"DATABASE_URL {exc}: set it to {HINTS['DATABASE_URL']}", code=2) from None

    @cached_property
    def engine(self) -> Engine:
        try:
            return make_engine(self.database_url)
        except (
            ArgumentError,
            ValueError,
        ) as exc:  # unparseable URL (a port that isn't a number), unknown driver
            raise Failure(
                f"DATABASE_URL is not a database URL ({exc}): set it to {HINTS['DATABASE_URL']}", code=2
            ) from None

    @cached_property
    def clock(self) -> BusinessClock:
        """The business clock (REBILL_NOW, REBILL_TIMEZONE): every "today" a command prints or bills."""
        try:
            instant = clock_from_env()
        except ValueError as exc:
            raise Failure(f"REBILL_NOW {exc}", code=2) from None
        try:
            return business_clock(instant, timezone=self.env("REBILL_TIMEZONE"))
        except ValueError as exc:
            raise Failure(f"REBILL_TIMEZONE {exc}", code=2) from None

    @cached_property
    def actor(self) -> str:
        """Who the audit log names for changes made from this terminal."""
        try:
            return f"cli:{getpass.getuser()}"[:64]
        except (KeyError, OSError):
            return "cli:unknown"

    @property
    def templates_dir(self) -> str | None:
        return self.env("REBILL_TEMPLATES_DIR")

    def engine_if_made(self) -> Engine | None:
        """The engine if a command made one (the error wrapper asks the database's revision)."""
        return self.__dict__.get("engine")

    def close(self) -> None:
        engine = self.engine_if_made()
        if engine is not None:
            engine.dispose()


# `@pass_cli` hands a command the invocation's CliContext (made by the root group).
pass_cli = click.make_pass_decorator(CliContext, ensure=True)
