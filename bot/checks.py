"""What `rebill-bot check` verifies. Each check says what works, or what to fix.

Every check is bounded by CHECK_TIMEOUT seconds and tries once: a person waiting at a terminal
wants "unreachable" in seconds, not after the retries a running bot rightly makes.
"""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import migrate
from bot.settings import Settings
from core.clock import clock_from_env
from core.db import make_engine
from core.mailer import MailError, check
from core.rendering import PdfUnavailable, render_pdf
from core.xero_api import xero_client
from core.xero_budget import day_remaining
from core.xero_tokens import token_state
from integrations.base import PsaError
from integrations.config import load_psa_settings, make_client
from integrations.http import RetryPolicy
from integrations.xero_auth import XeroError, load_xero_config

CHECK_TIMEOUT = 5.0
_SILENT = logging.getLogger("bot.checks.auth_test")
_SILENT.addHandler(logging.NullHandler())
_SILENT.propagate = False
# auth.test errors that mean the token itself is wrong: a person must fix SLACK_BOT_TOKEN.
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_database(settings: Settings) -> CheckResult:
    bounded = {"connect_args": {"connect_timeout": int(CHECK_TIMEOUT)}}
    engine = make_engine(
        settings.database_url, **({} if settings.database_url.startswith("sqlite") else bounded)
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    except Exception as exc:
        return CheckResult(
            "database", False, f"cannot connect ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        )
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if current != head:
        return CheckResult(
            "database", False, f"{where} is at {current or 'empty'}; run `rebill-bot db upgrade`"
        )
    return CheckResult("database", True, f"{where} (schema {current}, up to date)")


@dataclass(frozen=True)
class SlackAuth:
    """auth.test's answer: `ok`, `refused` (the token is wrong) or `unreachable` (try again later)."""

    outcome: Literal["ok", "refused", "unreachable"]
    detail: str


def slack_auth(settings: Settings, *, timeout: float = CHECK_TIMEOUT) -> SlackAuth:
    """Ask Slack who our token is, once, within `timeout` seconds (used by `check` and `serve`)."""
    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=timeout,
        retry_handlers=[],  # one try: the answer is for a person waiting
        logger=_SILENT,  # the outcome is reported by the caller, not as slack_sdk's ERROR lines
    )
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in TOKEN_ERRORS:
            return SlackAuth("refused", f"auth.test failed: {error}")
        return SlackAuth("unreachable", f"auth.test failed: {error}")
    except OSError as exc:  # refused, DNS, TLS, timed out (URLError and TimeoutError are OSErrors)
        reason = getattr(exc, "reason", None) or exc
        return SlackAuth("unreachable", f"cannot reach {settings.slack_api_url} ({reason})")
    return SlackAuth(
        "ok",
        f"auth.test ok: bot {response.get('user')} in team {response.get('team')}",
    )


def check_slack(settings: Settings) -> CheckResult:
    auth = slack_auth(settings)
    return CheckResult("slack", auth.outcome == "ok", auth.detail)


def check_psa() -> CheckResult:
    try:
        client = make_client(load_psa_settings(), timeout=CHECK_TIMEOUT, retry=RetryPolicy(max_attempts=1))
    except PsaError as exc:
        return CheckResult("psa", False, exc.user_message)
    if client is None:
        return CheckResult(
            "psa", True, "no PSA configured (REBILL_PSA unset): customers are created manually"
        )
    try:
        return CheckResult("psa", True, client.check())
    except PsaError as exc:
        return CheckResult("psa", False, exc.user_message)
    finally:
        client.close()


def check_smtp(settings: Settings) -> CheckResult:
    """Connect, secure and log in to the mail server without sending anything."""
    config = settings.smtp
    if config is not None:
        config = dataclasses.replace(config, timeout=min(config.timeout, CHECK_TIMEOUT))
    if config is None:
        return CheckResult("smtp", True, "e-mail not configured (SMTP_HOST unset): invoices can't be sent")
    try:
        return CheckResult("smtp", True, f"{check(config)}; sending as {config.from_email}")
    except MailError as exc:
        return CheckResult("smtp", False, exc.user_message)


def check_xero(database_url: str) -> CheckResult:
    """Reach the organisation: its name, the token's state, the calls left today."""
    try:
        config = load_xero_config()
    except XeroError as exc:
        return CheckResult("xero", False, exc.user_message)
    if config is None:
        return CheckResult("xero", True, "not configured (XERO_CLIENT_ID unset): use the CSV export")
    engine = make_engine(database_url)
    clock = clock_from_env()
    try:
        with xero_client(engine=engine, config=config, clock=clock) as client:
            name = client.organisation().get("Name")
        state = token_state(engine, config, clock=clock)
        left = day_remaining(engine, clock=clock)
        return CheckResult("xero", True, f"organisation {name!r}; {state}; {left} of 5000 calls left today")
    except XeroError as exc:
        try:
            state = token_state(engine, config, clock=clock)
        except SQLAlchemyError:  # its tokens live in the database, which the database check reports on
            return CheckResult("xero", False, exc.user_message)
        return CheckResult("xero", False, f"{exc.user_message} ({state})")
    except SQLAlchemyError as exc:
        return CheckResult(
            "xero",
            False,
            f"its tokens can't be read from the database ({type(exc).__name__}): "
            "if it was never migrated, run `rebill-bot db upgrade`",
        )
    finally:
        engine.dispose()


def check_pdf() -> CheckResult:
    """WeasyPrint needs Pango (a system library) to lay out text: say so here, not at the first PDF."""
    try:
        render_pdf("<p>rebill-bot</p>")
    except PdfUnavailable as exc:
        return CheckResult("pdf", False, exc.user_message)
    return CheckResult("pdf", True, "WeasyPrint renders PDF invoices")


def run_checks(settings: Settings) -> list[CheckResult]:
    """Every check at once (each waits on a different service), reported in a fixed order: the
    answer takes as long as the slowest check, not the sum of them."""
    checks = (
        lambda: check_database(settings),
        lambda: check_slack(settings),
        check_psa,
        lambda: check_xero(settings.database_url),
        lambda: check_smtp(settings),
        check_pdf,
    )
    with ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="check") as pool:
        futures = [pool.submit(check) for check in checks]
        return [future.result() for future in futures]
