"""`rebill-bot scheduler` and `rebill-bot jobs list|run`: the scheduled jobs from a terminal."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure

if TYPE_CHECKING:
    from bot.jobs import JobContext


def _jobs(cli: CliContext) -> JobContext:
    """What the jobs run with: the full settings (they post to Slack), logging as `serve` logs."""
    # Imported here, not at the top: the jobs post to Slack and run on APScheduler (slack_sdk,
    # apscheduler, the alert views of every handler), which only `jobs` and `scheduler` need; every
    # other command would wait for them at start-up (bench/cli_startup.py).
    from bot import startup
    from bot.scheduler import job_context

    settings = cli.settings
    startup.configure_logging(settings)
    return job_context(settings, cli.engine, cli.clock, cli.psa)


@click.command("scheduler")
@pass_cli
def scheduler_command(cli: CliContext) -> None:
    """Run scheduled jobs on their own (for when `serve` runs with --no-scheduler)."""
    from apscheduler.schedulers.blocking import BlockingScheduler  # see _jobs: why not at the top

    from bot import migrate
    from bot.jobs import catch_up
    from bot.scheduler import configure

    jobs = _jobs(cli)
    migrate.upgrade(jobs.engine)
    for job_id, summary in catch_up(jobs):
        click.echo(f"catch-up {job_id}: {summary}")
    click.echo("catch-up done; scheduler running", nl=True)
    sys.stdout.flush()
    configure(BlockingScheduler(), jobs).start()


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs: list them, or run one now."""


@jobs_group.command("list")
@pass_cli
def jobs_list(cli: CliContext) -> None:
    """Each job with its next run time (in REBILL_TIMEZONE)."""
    from bot.scheduler import next_runs  # see _jobs: why not at the top

    jobs = _jobs(cli)
    for spec, when in next_runs(jobs):
        shown = when.astimezone(jobs.tz).strftime("%Y-%m-%d %H:%M %Z") if when else "never"
        click.echo(f"{spec.id:<24} next {shown:<24} {spec.description}")


@jobs_group.command("run")
@click.argument("job_id")
@click.option("--at", "at", help="Run as if scheduled at this ISO time (default: now).")
@pass_cli
def jobs_run(cli: CliContext, job_id: str, at: str | None) -> None:
    """Run JOB_ID now. Its claims still apply: what was already done is not done again."""
    from bot.jobs import JOBS, find  # see _jobs: why not at the top

    spec = find(job_id)
    if spec is None:
        raise Failure(f"No job {job_id!r}. Jobs: {', '.join(s.id for s in JOBS)}", code=2)
    jobs = _jobs(cli)
    try:
        when = datetime.fromisoformat(at) if at else jobs.clock.now()
    except ValueError:
        raise Failure(f"--at must be an ISO date-time, not {at!r}", code=2) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=jobs.tz)
    click.echo(f"{spec.id}: {spec.run(jobs, when)}")


def register(main: click.Group) -> None:
    main.add_command(scheduler_command)
    main.add_command(jobs_group)
