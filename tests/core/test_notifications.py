"""Claims: one winner per key, across threads and processes, on both databases."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core import notifications
from models.system import Notification
from tests.harness.clock import FixedClock


def test_second_claim_of_a_key_loses(engine: Engine, clock: FixedClock) -> None:
    first = notifications.claim(
        engine, kind="digest", subject="all", occasion="2026-12", claimed_by="a", clock=clock
    )
    second = notifications.claim(
        engine, kind="digest", subject="all", occasion="2026-12", claimed_by="b", clock=clock
    )
    other = notifications.claim(
        engine, kind="digest", subject="all", occasion="2027-01", claimed_by="b", clock=clock
    )
    assert first is not None and second is None and other is not None
    notifications.complete(engine, first, clock=clock, channel="C1", message_ts="1.2")
    with Session(engine) as db:
        row = db.get(Notification, first)
        assert (row.claimed_by, row.channel, row.message_ts, row.done_at) == ("a", "C1", "1.2", clock.now())


def test_released_claim_can_be_taken_again(engine: Engine, clock: FixedClock) -> None:
    key = {"kind": "reminder", "subject": "INV-1", "occasion": "due-4"}
    claim_id = notifications.claim(engine, **key, claimed_by="a", clock=clock)
    assert claim_id is not None
    notifications.release(engine, claim_id)
    assert notifications.claim(engine, **key, claimed_by="b", clock=clock) is not None


def test_a_held_claim_completes_when_its_block_ends(engine: Engine, clock: FixedClock) -> None:
    key = {"kind": "digest", "subject": "all", "occasion": "2026-12-01"}
    held = notifications.hold(engine, **key, claimed_by="a", clock=clock)
    assert held is not None
    with held:
        held.posted("C1", "1.2")
    row = notifications.find(engine, **key)
    assert row is not None and (row.channel, row.message_ts, row.done_at) == ("C1", "1.2", clock.now())
    assert notifications.hold(engine, **key, claimed_by="b", clock=clock) is None


def test_a_held_claim_is_released_when_its_block_raises(engine: Engine, clock: FixedClock) -> None:
    keys = [{"kind": "overdue", "subject": f"INV-{n}", "occasion": "2026-12-01"} for n in (1, 2)]
    ids = [notifications.claim(engine, **key, claimed_by="a", clock=clock) for key in keys]
    with pytest.raises(RuntimeError), notifications.held(engine, [i for i in ids if i], clock=clock):
        raise RuntimeError("Slack said no")
    assert [notifications.find(engine, **key) for key in keys] == [None, None]
    assert notifications.hold(engine, **keys[0], claimed_by="b", clock=clock) is not None


def test_keep_on_error_leaves_the_claim_neither_done_nor_released(engine: Engine, clock: FixedClock) -> None:
    key = {"kind": "psa_refresh", "subject": "halopsa", "occasion": "2026-12-01T06"}
    held = notifications.hold(engine, **key, claimed_by="a", clock=clock, keep_on_error=True)
    assert held is not None
    with pytest.raises(RuntimeError), held:
        raise RuntimeError("a bug")
    row = notifications.find(engine, **key)
    assert row is not None and row.claimed_by == "a" and row.done_at is None


def test_racing_threads_have_one_winner(engine: Engine, clock: FixedClock) -> None:
    def attempt(n: int) -> int | None:
        return notifications.claim(
            engine, kind="race", subject="x", occasion="1", claimed_by=f"t{n}", clock=clock
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert sum(r is not None for r in results) == 1


def test_racing_processes_have_one_winner(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    code = (
        "import sys; from datetime import UTC, datetime; from core.db import make_engine; from core import notifications\n"
        "class C:\n    def now(self): return datetime(2026, 12, 1, tzinfo=UTC)\n"
        f"e = make_engine({url!r})\n"
        "print('won' if notifications.claim(e, kind='race', subject='p', occasion='1', claimed_by=sys.argv[1], clock=C()) else 'lost')\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, f"p{n}"], stdout=subprocess.PIPE, text=True)
        for n in range(4)
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert sorted(outputs) == ["lost", "lost", "lost", "won"]
    with Session(engine) as db:
        assert len(db.exec(select(Notification).where(Notification.kind == "race")).all()) == 1
