"""Settings come from the environment (and an optional `.env`), never from code or the database.

Secrets are `SecretStr` so that a stray `repr()` or log line cannot leak them.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.clock import DEFAULT_TIMEZONE, zone_named

if TYPE_CHECKING:
    from core.mailer import SmtpConfig

ADMIN_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")

# How to fix each setting, shown when it is missing or malformed.
HINTS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write, for Socket Mode",
    "SLACK_API_URL": "the Slack Web API base URL ending in '/', e.g. https://slack.com/api/",
    "DATABASE_URL": "e.g. sqlite:///./rebill.db or postgresql+psycopg://user:pass@host/db",
    "REBILL_ADMINS": (
        "comma-separated Slack user ids (U.../W...) and user-group ids (S...), e.g. U024BE7LH,S0614TZR7"
    ),
    "REBILL_TIMEZONE": f"an IANA time zone name such as {DEFAULT_TIMEZONE}",
    "LOG_LEVEL": "one of DEBUG, INFO, WARNING, ERROR",
    "PORT": "a TCP port number between 1 and 65535",
    "SMTP_HOST": "your mail server's host name, e.g. smtp.office365.com (leave unset to send no e-mail)",
    "SMTP_PORT": "the mail server's port: 587 for STARTTLS, 465 for SSL, 25 for none",
    "SMTP_USERNAME": "the user name to log in to the mail server with (leave unset if it needs no login)",
    "SMTP_PASSWORD": "the password (or app password) for SMTP_USERNAME",
    "SMTP_SECURITY": "one of starttls (port 587), ssl (port 465) or none",
    "REBILL_FROM_EMAIL": "the address invoices are sent from, e.g. accounts@your-msp.example",
    "REBILL_BCC_EMAIL": "an address that gets a blind copy of every invoice e-mail (optional)",
    "SMTP_TIMEOUT": "seconds to wait for the mail server, e.g. 30",
}


# The example values in .env.example: a copy left unedited must stop the bot by name, not start it
# with credentials that can only fail later (tests/bot/test_startup.py keeps the two in step).
PLACEHOLDERS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "xoxb-your-bot-token",
    "SLACK_SIGNING_SECRET": "your-signing-secret",
    "REBILL_ADMINS": "U0123ABCD,S0456EFGH",
}
PLACEHOLDER_PROBLEM = "is still the example value from .env.example"


def _not_placeholder(name: str, value: str) -> None:
    if value.strip() == PLACEHOLDERS[name]:
        raise ValueError(PLACEHOLDER_PROBLEM)


def normalise_database_url(value: str) -> str:
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # psycopg 3 is the driver we ship; the bare scheme would ask SQLAlchemy for psycopg2.
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg")):
        raise ValueError("only SQLite and PostgreSQL (postgresql+psycopg://) are supported")
    return value


class ConfigError(Exception):
    """A configuration problem explained for a person, not a traceback."""


class SmtpSettings(BaseSettings):
    """Outgoing mail. All optional, so the bot runs (and bills) without it; invoices then can't be
    e-mailed. A separate class so `rebill-bot invoice send` needs no Slack secrets."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)  # left unset with SMTP_SECURITY=ssl: 465
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    rebill_from_email: str | None = Field(default=None, validate_default=True)
    rebill_bcc_email: str | None = None
    smtp_timeout: float = Field(default=30.0, gt=0, le=600)

    @field_validator("smtp_host", "smtp_username", "rebill_bcc_email", "rebill_from_email", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `SMTP_HOST=` in a .env file means "not configured", not "a host called ''".
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("smtp_port", mode="before")
    @classmethod
    def _blank_port(cls, value: object) -> object:
        return 587 if isinstance(value, str) and not value.strip() else value

    @field_validator("smtp_security", mode="before")
    @classmethod
    def _security(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("rebill_from_email")
    @classmethod
    def _from_email(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            if info.data.get("smtp_host"):
                raise ValueError("must be set when SMTP_HOST is set (invoices need a sender address)")
            return None
        return _valid_email(value)

    @field_validator("rebill_bcc_email")
    @classmethod
    def _bcc_email(cls, value: str | None) -> str | None:
        return None if value is None else _valid_email(value)

    @property
    def smtp(self) -> SmtpConfig | None:
        """What `core.mailer` needs, or None when SMTP_HOST is unset (e-mail not configured)."""
        from core.mailer import SmtpConfig

        if not self.smtp_host or not self.rebill_from_email:
            return None
        # Implicit TLS lives on 465: don't make SSL users also set the port they obviously mean.
        explicit = "smtp_port" in self.model_fields_set
        port = 465 if self.smtp_security == "ssl" and not explicit else self.smtp_port
        return SmtpConfig(
            host=self.smtp_host,
            port=port,
            from_email=self.rebill_from_email,
            security=self.smtp_security,
            username=self.smtp_username,
            password=self.smtp_password.get_secret_value() if self.smtp_password else None,
            bcc=self.rebill_bcc_email,
            timeout=self.smtp_timeout,
        )


def _valid_email(value: str) -> str:
    """The address normalised, or a ValueError whose text becomes the line naming the variable."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid e-mail address ({exc})") from None


class Settings(SmtpSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///./rebill.db"
    rebill_admins: Annotated[tuple[str, ...], NoDecode]
    rebill_timezone: str = DEFAULT_TIMEZONE
    log_level: str = "INFO"
    port: int = Field(default=3000, ge=1, le=65535)
    rebill_templates_dir: Path | None = None  # overrides for core/templates (invoice, e-mail)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        _not_placeholder("SLACK_BOT_TOKEN", value.get_secret_value())
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr) -> SecretStr:
        _not_placeholder("SLACK_SIGNING_SECRET", value.get_secret_value())
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("rebill_admins", mode="before")
    @classmethod
    def _admins(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            _not_placeholder("REBILL_ADMINS", value)
        items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
        ids = tuple(str(item).strip() for item in items if str(item).strip())
        if not ids:
            raise ValueError("must name at least one Slack user or user group")
        bad = [item for item in ids if not ADMIN_ID.match(item)]
        if bad:
            raise ValueError(f"not Slack user or user-group ids: {', '.join(bad)}")
        return ids

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

    @property
    def admin_users(self) -> frozenset[str]:
        return frozenset(i for i in self.rebill_admins if i[0] in "UW")

    @property
    def admin_groups(self) -> frozenset[str]:
        return frozenset(i for i in self.rebill_admins if i[0] == "S")


def describe_errors(error: ValidationError) -> str:
    """One line per bad variable: its name, what is wrong and how to fix it."""
    lines = ["rebill-bot is not configured correctly:"]
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        if item["type"] == "missing":
            problem = "is not set"
        else:
            problem = str(item["msg"]).removeprefix("Value error, ")
        hint = HINTS.get(name)
        lines.append(f"  - {name} {problem}" + (f": set it to {hint}" if hint else ""))
    lines.append("Set these in the environment or in a .env file in the working directory (see README.md).")
    return "\n".join(lines)


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None


def load_smtp_settings(**overrides: object) -> SmtpSettings:
    """Only the mail settings (for CLI commands that must not demand Slack secrets)."""
    try:
        return SmtpSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
