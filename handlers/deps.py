"""What every listener needs, built once per app from Settings and put on the Bolt context."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from core.clock import BusinessClock
from core.workpool import Workers
from handlers.access import AccessPolicy
from handlers.config import Settings
from integrations.config import PsaSettings

# Put on the context by `bot.middleware.inject`, the first of our middleware, which Bolt runs only
# after its own signature check passed (or for Socket Mode, whose connection is the
# authentication). The error handler (handlers.errors) answers nothing without it.
VERIFIED = "rebill_verified"


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
