"""What `serve` checks and says as it starts: credentials first, then one line per component.

A wrong or placeholder SLACK_BOT_TOKEN stops the process at once, naming the variable, instead of
a server that starts happily and fails on the first request. Slack being unreachable is only a
warning: a network blip must not keep a replica (or a restart after an outage) from coming up.
Libraries' start-up chatter (Alembic's plugin list, APScheduler's "Adding job tentatively", Bolt's
"token will be unused") stays below WARNING unless LOG_LEVEL=DEBUG; our own lines say the same in
a few words.
"""

from __future__ import annotations

import logging

from bot.checks import slack_auth
from bot.settings import HINTS, ConfigError, Settings

# Loggers whose INFO lines describe the libraries' own workings, not the bot's.
CHATTY = ("alembic", "apscheduler", "slack_bolt", "slack_sdk", "uvicorn", "uvicorn.error")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format=LOG_FORMAT)
    logging.getLogger().setLevel(settings.log_level)
    quiet = settings.log_level != "DEBUG"
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.DEBUG)
    bolt = logging.getLogger("slack_bolt.App")
    if not any(isinstance(f, _SameTokenFilter) for f in bolt.filters):
        bolt.addFilter(_SameTokenFilter())


class _SameTokenFilter(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment itself and warns that the client we pass
    wins over it; it is the very same token, so the warning only alarms the person starting us."""

    def filter(self, record: logging.LogRecord) -> bool:
        from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def library_log_level(settings: Settings) -> str:
    """What uvicorn is told: its INFO lines ("Started server process") repeat ours."""
    return "debug" if settings.log_level == "DEBUG" else "warning"


def verify_slack(settings: Settings) -> str:
    """auth.test before anything starts: the line to print, or ConfigError if the token is wrong."""
    auth = slack_auth(settings)
    if auth.outcome == "refused":
        raise ConfigError(
            f"Slack refused SLACK_BOT_TOKEN ({auth.detail}): set it to {HINTS['SLACK_BOT_TOKEN']}, "
            "then run `rebill-bot check`."
        )
    if auth.outcome == "unreachable":
        return (
            f"slack: WARNING: not reachable, starting anyway ({auth.detail}); `rebill-bot check` retests it"
        )
    return f"slack: {auth.detail.removeprefix('auth.test ok: ')}"


def socket_mode_problem(exc: Exception) -> tuple[str, int]:
    """Why Socket Mode could not connect, and the exit code: 2 for a token to fix, 1 to retry."""
    from slack_sdk.errors import SlackApiError

    from bot.checks import TOKEN_ERRORS

    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in TOKEN_ERRORS:
            return (
                f"Slack refused SLACK_APP_TOKEN (apps.connections.open failed: {error}): set it to "
                f"{HINTS['SLACK_APP_TOKEN']}, or leave it empty to serve HTTP.",
                2,
            )
        return f"Socket Mode could not connect (apps.connections.open failed: {error}); try again.", 1
    reason = getattr(exc, "reason", None) or exc
    return f"Socket Mode could not connect: Slack not reachable ({reason}); try again.", 1
