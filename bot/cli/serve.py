"""`rebill-bot serve` (the Slack app, with the scheduler) and `rebill-bot check` (the configuration)."""

from __future__ import annotations

import sys
import threading

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from bot.settings import ConfigError


@click.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT or 3000).")
@click.option("--host", default="0.0.0.0", show_default=True, help="HTTP bind address.")  # noqa: S104
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled jobs in this process.")
@pass_cli
def serve(cli: CliContext, port: int | None, host: str, no_scheduler: bool) -> None:
    """Run the Slack app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)."""
    # Imported here, not at the top: the Slack app, its HTTP server and the scheduler (slack_bolt,
    # uvicorn, starlette, apscheduler, every handler) add most of a second to start-up, and only
    # `serve` runs them; every other command would wait for them (bench/cli_startup.py).
    from apscheduler.schedulers.background import BackgroundScheduler

    from bot import migrate, startup
    from bot.app import create_app
    from bot.jobs import catch_up
    from bot.scheduler import configure, job_context
    from bot.server import build_asgi, listen, uvicorn_server

    settings = cli.settings
    startup.configure_logging(settings)
    psa = cli.psa
    slack_line = startup.verify_slack(settings)
    engine = cli.engine
    before, after = migrate.upgrade(engine)
    where = engine.url.render_as_string(hide_password=True)
    migrated = f" (migrated from {before or 'empty'})" if before != after else ""
    click.echo(f"database: {where} at revision {after}{migrated}")
    click.echo(slack_line, err="WARNING" in slack_line)
    app = create_app(settings, engine=engine, psa=psa)
    scheduler = None
    if not no_scheduler:
        jobs = job_context(settings, engine, cli.clock, psa)
        scheduler = configure(BackgroundScheduler(), jobs)
        scheduler.start()
        click.echo(f"scheduler: {len(scheduler.get_jobs())} jobs (`rebill-bot jobs list` shows when)")
        # Missed runs are made up in the background; their claims keep replicas from doubling them.
        scheduler.add_job(catch_up, args=[jobs], id="catch_up", name="Make up missed runs")
    else:
        click.echo("scheduler: off (--no-scheduler)")
    try:
        if settings.slack_app_token is not None:
            _socket_mode(app, settings.slack_app_token.get_secret_value())
        else:
            sock = listen(host, settings.port if port is None else port)
            click.echo(f"rebill-bot listening on http://{host}:{sock.getsockname()[1]}/slack/events")
            asgi = build_asgi(app, engine, signing_secret=settings.slack_signing_secret.get_secret_value())
            uvicorn_server(asgi, log_level=startup.library_log_level(settings)).run(sockets=[sock])
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


def _socket_mode(app: object, app_token: str) -> None:
    # Imported here: the Socket Mode adapter (slack_sdk's WebSocket client) is used by `serve`
    # in Socket Mode alone.
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token)
    try:
        handler.connect()
    except Exception as exc:  # refused token, Slack down: one line, then exit for a restart
        from bot.startup import socket_mode_problem

        problem, code = socket_mode_problem(exc)
        raise Failure(problem, code=code) from None
    click.echo("rebill-bot connected to Slack via Socket Mode")
    threading.Event().wait()


@click.command()
@pass_cli
def check(cli: CliContext) -> None:
    """Check the configuration, line by line. Exit code 0 only if everything works."""
    # Imported here: the checks reach Slack, the PSA, Xero, SMTP and WeasyPrint, whose clients
    # (slack_sdk, authlib) only `check` needs at once; other commands would start slower.
    from bot.checks import run_checks

    try:
        settings = cli.settings
    except ConfigError as exc:  # a report, line by line, on stdout like the other checks
        click.echo("✗ settings")
        click.echo(str(exc))
        sys.exit(2)
    results = run_checks(settings)
    click.echo("✓ settings: loaded")
    for result in results:
        click.echo(f"{'✓' if result.ok else '✗'} {result.name}: {result.detail}")
    sys.exit(0 if all(r.ok for r in results) else 1)


def register(main: click.Group) -> None:
    main.add_command(serve)
    main.add_command(check)
