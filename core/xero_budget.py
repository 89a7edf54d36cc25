"""Xero's per-organisation call limits, kept in the database so every replica spends one budget.

Xero allows 60 calls a minute, 5,000 a day and 5 at once per organisation, and answers 429 past
any of them. We would rather not be refused at all, so each call first takes a row in `xero_call`
while holding the `xero_connection` row lock: with that lock held nobody else can count at the
same moment, so "fewer than 60 started in the last minute" stays true until our row is in.
A caller over the minute limit sleeps until the oldest call in the window finished a minute ago
(plus a margin for clock skew between us and Xero); a call that never finished (a crashed replica) stops
counting as "in flight" after a lease. The daily limit is not waited out: it is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import session_scope
from core.xero_tokens import CONNECTION_ID, load_connection, lock_connection
from integrations.xero import BudgetExhausted
from models.xero import XeroCall, XeroConnection


@dataclass(frozen=True)
class Limits:
    """Xero's documented limits per organisation (one place: the fake and the bench read these)."""

    per_minute: int = 60
    window: timedelta = timedelta(minutes=1)  # the "minute" (a bench may shrink time)
    per_day: int = 5000
    concurrent: int = 5
    margin: timedelta = timedelta(milliseconds=500)
    lease: timedelta = timedelta(minutes=2)


LIMITS = Limits()


class CallBudget:
    """The API client's `Budget`, counted in the `xero_call` table (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        limits: Limits = LIMITS,
    ) -> None:
        self.engine, self.clock, self.sleep, self.limits = engine, clock, sleep, limits
        self.waited = 0.0

    def acquire(self, what: str) -> int:
        """Block until a call may start; returns the call's id (hand it to `release`)."""
        while True:
            wait = self._try(what)
            if isinstance(wait, int):
                return wait
            self.waited += wait
            self.sleep(wait)

    def _try(self, what: str) -> int | float:
        limits = self.limits
        with session_scope(self.engine) as db:
            lock_connection(db, kind="custom")  # kind only if this creates it; tokens fill it in
            now = self.clock.now()
            db.execute(delete(XeroCall).where(XeroCall.started_at < now - timedelta(days=1, hours=1)))
            day = db.execute(
                select(func.count())
                .select_from(XeroCall)
                .where(XeroCall.started_at > now - timedelta(days=1))
            ).scalar_one()
            if day >= limits.per_day:
                raise BudgetExhausted(
                    f"Xero's daily limit ({limits.per_day} calls) is spent; the rest waits for tomorrow's run."
                )
            # A call counts from when it finished (Xero certainly had it by then) or, while in
            # flight, from now: counting from our start would let latency push Xero over.
            recent = db.execute(
                select(XeroCall.started_at, XeroCall.finished_at).where(
                    or_(
                        XeroCall.finished_at > now - limits.window,  # type: ignore[operator]
                        and_(XeroCall.finished_at.is_(None), XeroCall.started_at > now - limits.lease),  # type: ignore[union-attr]
                    )
                )
            ).all()
            if len(recent) >= limits.per_minute:
                stamps = sorted(finished or now for _started, finished in recent)
                oldest = stamps[len(stamps) - limits.per_minute]
                return max(0.05, (oldest + limits.window + limits.margin - now).total_seconds())
            in_flight = db.execute(
                select(func.count())
                .select_from(XeroCall)
                .where(XeroCall.finished_at.is_(None), XeroCall.started_at > now - limits.lease)  # type: ignore[union-attr]
            ).scalar_one()
            if in_flight >= limits.concurrent:
                return 0.2
            call = XeroCall(started_at=now, what=what[:60])
            db.add(call)
            db.flush()
            assert call.id is not None
            return call.id

    def release(self, call_id: int, *, day_remaining: int | None = None) -> None:
        with session_scope(self.engine) as db:
            now = self.clock.now()
            db.execute(update(XeroCall).where(XeroCall.id == call_id).values(finished_at=now))  # type: ignore[arg-type]
            if day_remaining is not None:
                db.execute(
                    update(XeroConnection)
                    .where(XeroConnection.id == CONNECTION_ID)  # type: ignore[arg-type]
                    .values(day_remaining=day_remaining, day_remaining_at=now)
                )


def day_remaining(engine: Engine, *, clock: Clock, limits: Limits = LIMITS) -> int:
    """Calls left today: Xero's own last figure if we have one from today, else our count."""
    with session_scope(engine) as db:
        now = clock.now()
        spent = db.execute(
            select(func.count()).select_from(XeroCall).where(XeroCall.started_at > now - timedelta(days=1))
        ).scalar_one()
        row = load_connection(db)
    ours = max(0, limits.per_day - spent)
    fresh = (
        row is not None
        and row.day_remaining_at is not None
        and row.day_remaining_at > now - timedelta(minutes=5)
    )
    if fresh and row is not None and row.day_remaining is not None:
        return min(ours, row.day_remaining)
    return ours
