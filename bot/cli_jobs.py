"""`rebill-bot scheduler` and `rebill-bot jobs ...`."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from bot.cli import _configure_logging, _psa_settings, _settings, main


def _context():  # type: ignore[no-untyped-def]
    from bot.scheduler import job_context
    from core.clock import clock_from_env
    from core.db import make_engine

    settings = _settings()
    _configure_logging(settings)
    try:
        clock = clock_from_env()
    except ValueError as exc:
        click.echo(f"REBILL_NOW {exc}", err=True)
        sys.exit(2)
    return job_context(settings, make_engine(settings.database_url), clock, _psa_settings())


@main.command("scheduler")
def scheduler_command() -> None:
    """Run scheduled jobs on their own (for when `serve` runs with --no-scheduler)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot import migrate
    from bot.jobs import catch_up
    from bot.scheduler import configure

    ctx = _context()
    migrate.upgrade(ctx.engine)
    for job_id, summary in catch_up(ctx):
        click.echo(f"catch-up {job_id}: {summary}")
    click.echo("catch-up done; scheduler running", nl=True)
    sys.stdout.flush()
    configure(BlockingScheduler(), ctx).start()


@main.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs: list them, or run one now."""


@jobs_group.command("list")
def jobs_list() -> None:
    """Each job with its next run time (in REBILL_TIMEZONE)."""
    from bot.scheduler import next_runs

    ctx = _context()
    for spec, when in next_runs(ctx):
        shown = when.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M %Z") if when else "never"
        click.echo(f"{spec.id:<24} next {shown:<24} {spec.description}")


@jobs_group.command("run")
@click.argument("job_id")
@click.option("--at", "at", help="Run as if scheduled at this ISO time (default: now).")
def jobs_run(job_id: str, at: str | None) -> None:
    """Run JOB_ID now. Its claims still apply: what was already done is not done again."""
    from bot.jobs import JOBS, find

    spec = find(job_id)
    if spec is None:
        click.echo(f"No job {job_id!r}. Jobs: {', '.join(s.id for s in JOBS)}", err=True)
        sys.exit(2)
    ctx = _context()
    try:
        when = datetime.fromisoformat(at) if at else ctx.clock.now()
    except ValueError:
        click.echo(f"--at must be an ISO date-time, not {at!r}", err=True)
        sys.exit(2)
    if when.tzinfo is None:
        when = when.replace(tzinfo=ctx.tz)
    click.echo(f"{spec.id}: {spec.run(ctx, when)}")
