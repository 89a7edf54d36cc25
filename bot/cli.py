"""`rebill-bot`: serve, migrate and check. Configuration problems exit 2 with a message, never a traceback."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import click

from bot.settings import HINTS, ConfigError, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _psa_settings():  # type: ignore[no-untyped-def]
    from integrations.base import PsaConfigError
    from integrations.config import load_psa_settings

    try:
        return load_psa_settings()
    except PsaConfigError as exc:
        click.echo(exc.user_message, err=True)
        sys.exit(2)


def _configure_logging(settings: Settings) -> None:
    from bot.startup import configure_logging

    configure_logging(settings)


@click.group()
@click.version_option(package_name="rebill-bot", prog_name="rebill-bot")
def main() -> None:
    """rebill-bot: rebill your end customers from Slack."""


@main.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT or 3000).")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP bind address.")  # noqa: S104
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled jobs in this process.")
def serve(port: int | None, host: str, no_scheduler: bool) -> None:
    """Run the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)."""
    settings = _settings()
    _configure_logging(settings)
    from bot import migrate, startup
    from bot.app import create_app
    from core.clock import SystemClock
    from core.db import make_engine

    psa = _psa_settings()
    try:
        slack_line = startup.verify_slack(settings)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    engine = make_engine(settings.database_url)
    before, after = migrate.upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    migrated = f" (migrated from {before or 'empty'})" if before != after else ""
    click.echo(f"database: {where} at revision {after}{migrated}")
    click.echo(slack_line, err="WARNING" in slack_line)
    app = create_app(settings, engine=engine, psa=psa)
    scheduler = None
    if not no_scheduler:
        from apscheduler.schedulers.background import BackgroundScheduler

        from bot.jobs import catch_up
        from bot.scheduler import configure, job_context

        ctx = job_context(settings, engine, SystemClock(), psa)
        scheduler = configure(BackgroundScheduler(), ctx)
        scheduler.start()
        click.echo(f"scheduler: {len(scheduler.get_jobs())} jobs (`rebill-bot jobs list` shows when)")
        # Missed runs are made up in the background; their claims keep replicas from doubling them.
        scheduler.add_job(catch_up, args=[ctx], id="catch_up", name="Make up missed runs")
    else:
        click.echo("scheduler: off (--no-scheduler)")
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(app, settings.slack_app_token.get_secret_value())
            try:
                handler.connect()
            except Exception as exc:  # refused token, Slack down: one line, then exit for a restart
                problem, code = startup.socket_mode_problem(exc)
                click.echo(problem, err=True)
                sys.exit(code)
            click.echo("rebill-bot connected to Slack via Socket Mode")
            threading.Event().wait()
        else:
            from bot.server import build_asgi, listen, uvicorn_server

            sock = listen(host, settings.port if port is None else port)
            click.echo(f"rebill-bot listening on http://{host}:{sock.getsockname()[1]}/slack/events")
            asgi = build_asgi(app, engine, signing_secret=settings.slack_signing_secret.get_secret_value())
            uvicorn_server(asgi, log_level=startup.library_log_level(settings)).run(sockets=[sock])
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (a no-op when up to date)."""
    from bot import migrate
    from core.db import make_engine

    url = _database_url()
    engine = make_engine(url)
    before, after = migrate.upgrade(engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


def _database_url() -> str:
    """`db upgrade` needs only the database, so it must not demand Slack secrets."""
    import os

    from bot.settings import normalise_database_url

    url = os.environ.get("DATABASE_URL") or _dotenv_value("DATABASE_URL") or "sqlite:///./rebill.db"
    try:
        return normalise_database_url(url)
    except ValueError as exc:
        click.echo(f"DATABASE_URL {exc}: set it to {HINTS['DATABASE_URL']}", err=True)
        sys.exit(2)


def _dotenv_value(name: str) -> str | None:
    from dotenv import dotenv_values

    return dotenv_values(".env").get(name)


@main.command()
def check() -> None:
    """Check the configuration, line by line. Exit code 0 only if everything works."""
    from bot.checks import run_checks

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo("✗ settings")
        click.echo(str(exc))
        sys.exit(2)
    results = run_checks(settings)
    click.echo("✓ settings: loaded")
    for result in results:
        click.echo(f"{'✓' if result.ok else '✗'} {result.name}: {result.detail}")
    sys.exit(0 if all(r.ok for r in results) else 1)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli:unknown"


def _today() -> date:
    """Today in the billing time zone (REBILL_TIMEZONE), without demanding Slack settings."""
    import os

    from core.clock import business_clock

    return business_clock(
        timezone=os.environ.get("REBILL_TIMEZONE") or _dotenv_value("REBILL_TIMEZONE")
    ).today()


def _engine():  # type: ignore[no-untyped-def]
    from core.db import make_engine

    return make_engine(_database_url())


@main.group("customers")
def customers_group() -> None:
    """List, export and import end customers."""


@customers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "include_archived", is_flag=True, help="Include archived customers.")
@click.argument("text", required=False, default="")
def customers_list(as_json: bool, include_archived: bool, text: str) -> None:
    """List end customers (optionally those whose name contains TEXT)."""
    import json

    from core import billing_settings, customers, payment_terms
    from core.db import session_scope

    with session_scope(_engine()) as db:
        default = billing_settings.default_terms(db)
        page = customers.list_page(db, text=text, include_archived=include_archived, limit=1_000_000)
        rows = [
            {
                "id": c.id,
                "company_name": c.company_name,
                "email": c.email,
                "contact_number": c.contact_number,
                "payment_terms_days": c.payment_terms_days,
                "effective_payment_terms_days": payment_terms.effective_days(c.payment_terms_days, default),
                "psa_kind": c.psa_kind,
                "psa_ref": c.psa_ref,
                "archived": c.archived_at is not None,
            }
            for c in page.customers
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        email = row["email"] or "⚠ no e-mail: invoices can't be sent"
        terms = payment_terms.describe(row["payment_terms_days"], default)
        archived = " (archived)" if row["archived"] else ""
        click.echo(f"{row['id']:>6}  {row['company_name']}{archived}  |  {email}  |  {terms}")
    click.echo(f"{len(rows)} customer(s)")


@customers_group.command("export")
@click.option(
    "--csv", "path", required=True, type=click.Path(dir_okay=False, writable=True), help="File to write."
)
def customers_export(path: str) -> None:
    """Export every end customer (archived included) to a CSV file."""
    from core.customer_csv import export
    from core.db import session_scope

    with session_scope(_engine()) as db, open(path, "w", newline="", encoding="utf-8") as out:
        count = export(db, out)
    click.echo(f"exported {count} customer(s) to {path}")


@customers_group.command("import")
@click.option(
    "--csv", "path", required=True, type=click.Path(exists=True, dir_okay=False), help="File to read."
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
def customers_import(path: str, dry_run: bool) -> None:
    """Create or update end customers from CSV (matched by PSA reference, else company name)."""
    from core.clock import SystemClock
    from core.customer_csv import import_csv, summary_lines
    from core.db import session_scope

    try:
        with open(path, newline="", encoding="utf-8-sig") as source:
            text = source.read()
    except UnicodeDecodeError:
        click.echo("Malformed file, nothing imported: it is not UTF-8 text.", err=True)
        sys.exit(1)
    import io

    with session_scope(_engine()) as db:
        report = import_csv(db, io.StringIO(text), actor=_actor(), clock=SystemClock(), dry_run=dry_run)
        if not report.ok:
            db.rollback()
    for line in summary_lines(report, dry_run=dry_run):
        click.echo(line, err=not report.ok)
    sys.exit(0 if report.ok else 1)


# Feature command groups live in their own modules and attach themselves to `main`.
from bot import cli_features  # noqa: E402, F401
