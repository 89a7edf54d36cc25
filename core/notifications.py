"""Exactly-once side effects: claim a (kind, subject, occasion) key in the database before acting.

The claim is an INSERT ... ON CONFLICT DO NOTHING committed on its own, so whichever process
(replica, restarted scheduler, a `jobs run` from the CLI) inserts the row does the work and every
other one sees the conflict and does nothing. A failed action releases its claim so a later run
can retry; a process that dies mid-action leaves the claim, so the action is never repeated
(at most once, by design: a duplicate alert or e-mail is worse than a missing one, which the
notifications table shows).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.db import session_scope
from core.clock import Clock
from models.system import Notification


def claim(
    engine: Engine, *, kind: str, subject: str, occasion: str, claimed_by: str, clock: Clock
) -> int | None:
    """The new claim's id, or None if this side effect is already claimed."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Notification)
        .values(
            kind=kind, subject=subject, occasion=occasion, claimed_by=claimed_by[:100], claimed_at=clock.now()
        )
        .on_conflict_do_nothing(index_elements=["kind", "subject", "occasion"])
        .returning(Notification.id)  # type: ignore[arg-type]
    )
    with session_scope(engine) as db:
        row = db.execute(statement).first()
    return int(row[0]) if row else None


def complete(
    engine: Engine, claim_id: int, *, clock: Clock, channel: str | None = None, message_ts: str | None = None
) -> None:
    with session_scope(engine) as db:
        db.execute(
            update(Notification)
            .where(Notification.id == claim_id)  # type: ignore[arg-type]
            .values(done_at=clock.now(), channel=channel, message_ts=message_ts, error=None)
        )


def release(engine: Engine, claim_id: int) -> None:
    """Give the key back after a failure, so the next run tries again."""
    with session_scope(engine) as db:
        db.execute(delete(Notification).where(Notification.id == claim_id))  # type: ignore[arg-type]


def claimed_at(engine: Engine, *, kind: str, subject: str, occasion: str) -> datetime | None:
    with session_scope(engine) as db:
        row = db.exec(
            select(Notification).where(
                Notification.kind == kind, Notification.subject == subject, Notification.occasion == occasion
            )
        ).first()
        return row.claimed_at if row else None
