"""APScheduler 3.x wiring. Each process keeps its own in-memory job store (a shared store would run
jobs twice); exactly-once comes from claims in the database, not from the scheduler."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobs import JOBS, JobContext

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 6 * 3600


def build_scheduler(ctx: JobContext) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone=ctx.settings.tz,
        job_defaults={"coalesce": True, "misfire_grace_time": MISFIRE_GRACE_SECONDS, "max_instances": 1},
    )
    for spec in JOBS:
        scheduler.add_job(
            spec.run,
            trigger=spec.trigger(ctx),
            args=[ctx],
            id=spec.id,
            name=spec.description,
            replace_existing=True,
        )
    return scheduler
