"""The Slack app's settings: Slack's own variables, and the composed `Settings` that `serve` loads.

Secrets are `SecretStr` so that a stray `repr()` or log line cannot leak them. The listeners read
the core and mail settings through `Settings` (one object on `Deps`); commands that need no Slack
load `core.config.CoreSettings` or `core.smtp_settings.SmtpSettings` alone.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.config import CORE_HINTS, ConfigError, CoreSettings, describe_errors
from core.smtp_settings import SMTP_HINTS, SmtpSettings

ADMIN_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")

SLACK_HINTS: dict[str, str] = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your Slack app's OAuth & Permissions page",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your Slack app's Basic Information page",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with connections:write, for Socket Mode",
    "SLACK_API_URL": "the Slack Web API base URL ending in '/', e.g. https://slack.com/api/",
    "REBILL_ADMINS": (
        "comma-separated Slack user ids (U.../W...) and user-group ids (S...), e.g. U024BE7LH,S0614TZR7"
    ),
    "PORT": "a TCP port number between 1 and 65535",
}

# Every hint `serve` may print, whichever concern the variable belongs to.
HINTS: dict[str, str] = {**SLACK_HINTS, **CORE_HINTS, **SMTP_HINTS}

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


class SlackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    rebill_admins: Annotated[tuple[str, ...], NoDecode]
    port: int = Field(default=3000, ge=1, le=65535)

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

    @property
    def admin_users(self) -> frozenset[str]:
        return frozenset(i for i in self.rebill_admins if i[0] in "UW")

    @property
    def admin_groups(self) -> frozenset[str]:
        return frozenset(i for i in self.rebill_admins if i[0] == "S")


class Settings(SlackSettings, CoreSettings, SmtpSettings):
    """Everything `serve` (the Slack app and its scheduler) reads, loaded and checked together."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, HINTS)) from None
