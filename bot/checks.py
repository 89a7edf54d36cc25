"""What `rebill-bot check` verifies. Each check says what works, or what to fix."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from sqlalchemy import text

from bot.settings import Settings


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_database(settings: Settings) -> CheckResult:
    from bot import migrate
    from bot.db import make_engine

    engine = make_engine(settings.database_url)
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


def check_slack(settings: Settings) -> CheckResult:
    from bot.app import make_web_client

    try:
        response = make_web_client(settings).auth_test()
    except SlackApiError as exc:
        return CheckResult("slack", False, f"auth.test failed: {exc.response.get('error')}")
    except OSError as exc:
        return CheckResult("slack", False, f"cannot reach {settings.slack_api_url}: {exc}")
    return CheckResult(
        "slack", True, f"auth.test ok: bot {response.get('user')} in team {response.get('team')}"
    )


def check_psa() -> CheckResult:
    from integrations.base import PsaError
    from integrations.config import load_psa_settings, make_client

    try:
        client = make_client(load_psa_settings())
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
    from core.mailer import MailError, check

    config = settings.smtp
    if config is None:
        return CheckResult("smtp", True, "e-mail not configured (SMTP_HOST unset): invoices can't be sent")
    try:
        return CheckResult("smtp", True, f"{check(config)}; sending as {config.from_email}")
    except MailError as exc:
        return CheckResult("smtp", False, exc.user_message)


def check_xero(database_url: str | None = None) -> CheckResult:
    """Reach the organisation: its name, the token's state, the calls left today."""
    from bot.cli import _database_url
    from bot.db import make_engine
    from core.clock import clock_from_env
    from integrations.xero import XeroClient
    from integrations.xero_auth import XeroError, load_xero_config, token_state
    from integrations.xero_budget import day_remaining

    try:
        config = load_xero_config()
    except XeroError as exc:
        return CheckResult("xero", False, exc.user_message)
    if config is None:
        return CheckResult("xero", True, "not configured (XERO_CLIENT_ID unset): use the CSV export")
    engine = make_engine(database_url or _database_url())
    clock = clock_from_env()
    try:
        with XeroClient(engine=engine, config=config, clock=clock) as client:
            name = client.organisation().get("Name")
        state = token_state(engine, config, clock=clock)
        left = day_remaining(engine, clock=clock)
        return CheckResult("xero", True, f"organisation {name!r}; {state}; {left} of 5000 calls left today")
    except XeroError as exc:
        return CheckResult("xero", False, f"{exc.user_message} ({token_state(engine, config, clock=clock)})")
    finally:
        engine.dispose()


def run_checks(settings: Settings) -> list[CheckResult]:
    return [
        check_database(settings),
        check_slack(settings),
        check_psa(),
        check_xero(settings.database_url),
        check_smtp(settings),
    ]
