"""core.workers.is_gone: a dead holder on this host is seen at once, one elsewhere only when old."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta

from core.workers import STALE_AFTER, is_gone, this_worker

NOW = datetime(2026, 12, 1, tzinfo=UTC)
HOST = socket.gethostname()


def test_alive_dead_zombie_elsewhere_and_old() -> None:
    assert this_worker() == f"{HOST}:{os.getpid()}"
    assert not is_gone(this_worker(), NOW, now=NOW, stale_after=STALE_AFTER)
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert not is_gone(f"{HOST}:{child.pid}", NOW, now=NOW, stale_after=STALE_AFTER)
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not yet reaped: a zombie
        assert is_gone(f"{HOST}:{child.pid}", NOW, now=NOW, stale_after=STALE_AFTER)
    finally:
        child.wait()
    assert is_gone(f"{HOST}:{child.pid}", NOW, now=NOW, stale_after=STALE_AFTER)  # reaped
    assert not is_gone("other-host:1", NOW, now=NOW + timedelta(minutes=14), stale_after=STALE_AFTER)
    assert is_gone("other-host:1", NOW, now=NOW + timedelta(minutes=16), stale_after=STALE_AFTER)
    assert not is_gone(None, None, now=NOW, stale_after=STALE_AFTER)
