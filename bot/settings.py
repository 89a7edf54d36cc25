"""Where the entry points (`serve`, the CLI, start-up checks) get their settings from.

Each concern's settings live beside what uses them: core (`core.config`), mail
(`core.smtp_settings`), the PSA (`integrations.config`) and Slack (`handlers.config`, which also
composes the `Settings` that `serve` loads). This module names them for the entry points.
"""

from __future__ import annotations

from core.config import ConfigError, CoreSettings, describe_errors, load_core_settings, normalise_database_url
from core.smtp_settings import SmtpSettings, load_smtp_settings
from handlers.config import HINTS, PLACEHOLDERS, Settings, SlackSettings, load_settings

__all__ = [
    "HINTS",
    "PLACEHOLDERS",
    "ConfigError",
    "CoreSettings",
    "Settings",
    "SlackSettings",
    "SmtpSettings",
    "describe_errors",
    "load_core_settings",
    "load_settings",
    "load_smtp_settings",
    "normalise_database_url",
]
