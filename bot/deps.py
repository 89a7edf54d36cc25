"""What every listener needs, built once per app from Settings and put on the Bolt context."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.access import AccessPolicy
from bot.settings import Settings
from bot.workpool import Workers
from core.clock import BusinessClock
from integrations.config import PsaSettings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    engine: Engine
    clock: BusinessClock  # the business's today; `.now()` is the instant
    access: AccessPolicy
    psa: PsaSettings
    workers: Workers

    @property
    def psa_kind(self) -> str | None:
        return self.psa.rebill_psa
