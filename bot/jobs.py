"""Every scheduled job, with an explicit id. Each job claims its side effects in the database, so
running it twice (two replicas, a restart, `jobs run`) does the work once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.engine import Engine

from bot.settings import Settings
from core.clock import Clock


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    engine: Engine
    clock: Clock


@dataclass(frozen=True)
class JobSpec:
    id: str
    description: str
    trigger: Callable[[JobContext], BaseTrigger]
    run: Callable[[JobContext], None]


# Filled in by the billing, PSA and alert features.
JOBS: list[JobSpec] = []
