"""Which process holds a claim, and whether that process is gone.

A claim in the database (a send, a month close, a channel post) names the process that took it
as `host:pid`. A claim whose process is gone can't finish by itself, and whatever it was doing may
or may not have happened (a mail server that accepted the message, a Slack post that landed), so
callers treat it as *uncertain*, never as free to repeat silently.

Gone means: the holder ran on this host and no process with its pid exists (immediate, no
waiting), or the claim is older than `stale_after` (a holder on another host can't be checked
from here; a send or a post never lasts that long). A recycled pid can make a dead holder look
alive until `stale_after` has passed: the cost is a delay, never a duplicate.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Final

STALE_AFTER: Final = timedelta(minutes=15)


def this_worker() -> str:
    """`host:pid` of the calling process (evaluated each call: a forked child is another worker)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_gone(
    worker: str | None, claimed_at: datetime | None, *, now: datetime, stale_after: timedelta
) -> bool:
    """True when the claim's holder can no longer finish: its process died, or it is too old."""
    if claimed_at is not None and claimed_at < now - stale_after:
        return True
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A killed child not yet reaped by its parent still has a pid; on Linux its state says Z."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False
