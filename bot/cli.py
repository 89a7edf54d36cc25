"""`rebill-bot`: serve, migrate and check. Configuration problems exit 2 with a message, never a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
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


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group()
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
    from bot import migrate
    from bot.app import create_app
    from bot.db import make_engine
    from bot.jobs import JobContext
    from bot.scheduler import build_scheduler
    from core.clock import SystemClock

    engine = make_engine(settings.database_url)
    before, after = migrate.upgrade(engine)
    if before != after:
        click.echo(f"database migrated from {before or 'empty'} to {after}")
    app = create_app(settings, engine=engine)
    scheduler = None
    if not no_scheduler:
        scheduler = build_scheduler(JobContext(settings=settings, engine=engine, clock=SystemClock()))
        scheduler.start()
    try:
        if settings.slack_app_token is not None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            click.echo("rebill-bot connecting to Slack in Socket Mode")
            SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
        else:
            from bot.server import build_asgi, listen, uvicorn_server

            sock = listen(host, port or settings.port)
            click.echo(f"rebill-bot listening on http://{host}:{sock.getsockname()[1]}/slack/events")
            uvicorn_server(build_asgi(app, engine), log_level=settings.log_level).run(sockets=[sock])
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
    from bot.db import make_engine

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
