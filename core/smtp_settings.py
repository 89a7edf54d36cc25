"""Outgoing mail settings from the environment: what `core.mailer` is given as an `SmtpConfig`.

A class of its own so `rebill-bot invoice send` needs no Slack secrets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.config import ConfigError, describe_errors
from core.mailer import SmtpConfig

SMTP_HINTS: dict[str, str] = {
    "SMTP_HOST": "your mail server's host name, e.g. smtp.office365.com (leave unset to send no e-mail)",
    "SMTP_PORT": "the mail server's port: 587 for STARTTLS, 465 for SSL, 25 for none",
    "SMTP_USERNAME": "the user name to log in to the mail server with (leave unset if it needs no login)",
    "SMTP_PASSWORD": "the password (or app password) for SMTP_USERNAME",
    "SMTP_SECURITY": "one of starttls (port 587), ssl (port 465) or none",
    "REBILL_FROM_EMAIL": "the address invoices are sent from, e.g. accounts@your-msp.example",
    "REBILL_BCC_EMAIL": "an address that gets a blind copy of every invoice e-mail (optional)",
    "SMTP_TIMEOUT": "seconds to wait for the mail server, e.g. 30",
}


class SmtpSettings(BaseSettings):
    """Outgoing mail. All optional, so the bot runs (and bills) without it; invoices then can't be
    e-mailed."""

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


def load_smtp_settings(**overrides: object) -> SmtpSettings:
    """Only the mail settings (for CLI commands that must not demand Slack secrets)."""
    try:
        return SmtpSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, SMTP_HINTS)) from None
