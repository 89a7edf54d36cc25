"""Exactly-once side effects: claim a (kind, subject, occasion) key in the database before acting.

The claim is an INSERT ... ON CONFLICT DO NOTHING committed on its own, so whichever process
(replica, restarted scheduler, a `jobs run` from the CLI) inserts the row does the work and every
other one sees the conflict and does nothing. A failed action releases its claim so a later run
can retry; a process that dies mid-action leaves the claim, so the action is never repeated
blindly (a duplicate alert or e-mail is worse than a missing one). Where the outcome can be
checked afterwards (a Slack post carries its key in message metadata: `handlers.close_report`), a
later run finds the dead holder's claim (`find`, `core.workers.is_gone`), looks, and either
records what landed or takes the claim over (`take_over`) and does it: exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.clock import Clock
from core.db import session_scope
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


@dataclass
class Held:
    """Claims held for one side effect: `with held:` completes them when the block ends and
    releases them if it raises, so the next run tries again.

    Completed together with the `channel` and `message_ts` set through `posted` (one Slack message
    may carry several claimed keys). `keep_on_error` keeps the claims instead (neither done nor
    released) for side effects that must not be retried blindly. A process that dies inside the
    block (or a KeyboardInterrupt) leaves them claimed, as the module docstring says.
    """

    engine: Engine
    ids: tuple[int, ...]
    clock: Clock
    keep_on_error: bool = False
    channel: str | None = field(default=None, init=False)
    message_ts: str | None = field(default=None, init=False)

    def posted(self, channel: str | None, message_ts: str | None) -> None:
        """Record where the side effect landed, stored on each claim when the block completes."""
        self.channel, self.message_ts = channel, message_ts

    def __enter__(self) -> Held:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            for claim_id in self.ids:
                complete(
                    self.engine, claim_id, clock=self.clock, channel=self.channel, message_ts=self.message_ts
                )
        elif issubclass(kind, Exception) and not self.keep_on_error:
            for claim_id in self.ids:
                release(self.engine, claim_id)


def hold(
    engine: Engine,
    *,
    kind: str,
    subject: str,
    occasion: str,
    claimed_by: str,
    clock: Clock,
    keep_on_error: bool = False,
) -> Held | None:
    """Claim one side effect for a `with` block (see `Held`), or None if it is already claimed."""
    claim_id = claim(
        engine, kind=kind, subject=subject, occasion=occasion, claimed_by=claimed_by, clock=clock
    )
    return None if claim_id is None else Held(engine, (claim_id,), clock, keep_on_error)


def held(engine: Engine, claim_ids: Sequence[int], *, clock: Clock) -> Held:
    """Claims already taken (several keys, or one taken over from a dead holder), held together."""
    return Held(engine, tuple(claim_ids), clock)


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


def find(engine: Engine, *, kind: str, subject: str, occasion: str) -> Notification | None:
    with session_scope(engine) as db:
        row = db.exec(
            select(Notification).where(
                Notification.kind == kind, Notification.subject == subject, Notification.occasion == occasion
            )
        ).first()
        if row is not None:
            db.expunge(row)
        return row


def take_over(engine: Engine, claim_id: int, *, was: str, claimed_by: str, clock: Clock) -> bool:
    """Replace a dead holder's claim (only if it is still that holder's): True if it is now ours."""
    with session_scope(engine) as db:
        changed = db.execute(
            update(Notification)
            .where(
                Notification.id == claim_id,  # type: ignore[arg-type]
                Notification.claimed_by == was,  # type: ignore[arg-type]
                Notification.done_at.is_(None),  # type: ignore[union-attr]
            )
            .values(claimed_by=claimed_by[:100], claimed_at=clock.now())
        ).rowcount
    return changed == 1


def done_for(engine: Engine, *, kind: str, subject: str) -> list[Notification]:
    """Every completed claim of one kind and subject (e.g. a report's thread entries)."""
    with session_scope(engine) as db:
        rows = list(
            db.exec(
                select(Notification).where(
                    Notification.kind == kind,
                    Notification.subject == subject,
                    Notification.done_at.is_not(None),  # type: ignore[union-attr]
                )
            ).all()
        )
        for row in rows:
            db.expunge(row)
        return rows
