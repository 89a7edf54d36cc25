"""The settings every process needs (database, business time zone, templates, logging), from the
environment and an optional `.env`, never from code or the database.

One class per concern, so a command loads only what it uses: these (core), mail
(`core.smtp_settings`), the PSA (`integrations.config`), Slack (`handlers.config`). Each bad
variable becomes one line naming it and saying how to fix it (`describe_errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.clock import DEFAULT_TIMEZONE, zone_named

# How to fix each setting, shown when it is missing or malformed.
CORE_HINTS: dict[str, str] = {
    "DATABASE_URL": "e.g. sqlite:///./rebill.db or postgresql+psycopg://user:pass@host/db",
    "REBILL_TIMEZONE": f"an IANA time zone name such as {DEFAULT_TIMEZONE}",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
}


class ConfigError(Exception):
    """A configuration problem explained for a person, not a traceback."""


def normalise_database_url(value: str) -> str:
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # psycopg 3 is the driver we ship; the bare scheme would ask SQLAlchemy for psycopg2.
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg")):
        raise ValueError("only SQLite and PostgreSQL (postgresql+psycopg://) are supported")
    return value


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///./rebill.db"
    rebill_timezone: str = DEFAULT_TIMEZONE
    log_level: str = "INFO"
    rebill_templates_dir: Path | None = None  # overrides for core/templates (invoice, e-mail)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("rebill_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return zone_named(value).key

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @cached_property
    def tz(self) -> ZoneInfo:
        return zone_named(self.rebill_timezone)


def describe_errors(error: ValidationError, hints: Mapping[str, str]) -> str:
    """One line per bad variable: its name, what is wrong and how to fix it."""
    lines = ["rebill-bot is not configured correctly:"]
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        if item["type"] == "missing":
            problem = "is not set"
        else:
            problem = str(item["msg"]).removeprefix("Value error, ")
        hint = hints.get(name)
        lines.append(f"  - {name} {problem}" + (f": set it to {hint}" if hint else ""))
    lines.append("Set these in the environment or in a .env file in the working directory (see README.md).")
    return "\n".join(lines)


def load_core_settings(**overrides: object) -> CoreSettings:
    """Only the core settings (for commands that need the database and the zone, not Slack)."""
    try:
        return CoreSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, CORE_HINTS)) from None
