"""APScheduler 3.x wiring. Each process keeps its own in-memory job store (a shared store would run
jobs twice); exactly-once comes from claims in the database, not from the scheduler."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine

from bot.app import make_web_client
from bot.jobs import JOBS, JobContext, JobSpec, run_logged
from bot.settings import Settings
from core import billing_settings
from core.clock import BusinessClock, Clock
from core.db import session_scope
from handlers.poster import Poster
from integrations.config import PsaSettings, load_psa_settings

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 6 * 3600
SETTINGS_POLL = timedelta(minutes=5)


def job_context(
    settings: Settings, engine: Engine, clock: Clock, psa: PsaSettings | None = None
) -> JobContext:
    client = make_web_client(settings)
    psa = psa if psa is not None else load_psa_settings()
    return JobContext(
        settings=settings,
        engine=engine,
        clock=BusinessClock(clock, settings.tz),
        client=client,
        poster=Poster(client),
        psa=psa,
    )


def _fire(ctx: JobContext, spec: JobSpec) -> None:
    # APScheduler calls us at the scheduled time; the claim key comes from that time, so a late
    # (misfired, coalesced) run still claims the occasion it was meant for.
    run_logged(ctx, spec, ctx.clock.now())


def schedule_jobs(scheduler: BaseScheduler, ctx: JobContext) -> None:
    """(Re)create every job from the current billing settings, which users edit in Slack."""
    with session_scope(ctx.engine) as db:
        row = billing_settings.load(db)
    for spec in JOBS:
        scheduler.add_job(
            _fire,
            trigger=spec.trigger(row, ctx.tz),
            args=[ctx, spec],
            id=spec.id,
            name=spec.description,
            replace_existing=True,
        )


def configure(scheduler: BaseScheduler, ctx: JobContext) -> BaseScheduler:
    scheduler.configure(
        timezone=ctx.tz,
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    schedule_jobs(scheduler, ctx)
    scheduler.add_job(
        schedule_jobs,
        IntervalTrigger(seconds=SETTINGS_POLL.total_seconds()),
        args=[scheduler, ctx],
        id="reload_schedule",
        name="Pick up schedule changes made in /rebill settings",
        replace_existing=True,
    )
    return scheduler


def next_runs(ctx: JobContext) -> list[tuple[JobSpec, datetime | None]]:
    with session_scope(ctx.engine) as db:
        row = billing_settings.load(db)
    now = ctx.clock.now()
    return [(spec, spec.trigger(row, ctx.tz).get_next_fire_time(None, now)) for spec in JOBS]
