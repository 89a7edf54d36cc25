"""Shared bench plumbing: a real app server on a fresh database, and percentile maths."""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.settings import Settings
from core.db import make_engine
from models import metadata
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"


def database_url(postgres: str | None) -> str:
    """The given PostgreSQL URL, or a SQLite file in a folder of its own, removed when we exit."""
    if postgres:
        return postgres
    folder = tempfile.mkdtemp(prefix="rebill-bench-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return f"sqlite:///{folder}/bench.db"


def fresh_engine(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    return engine


def start_app(engine, url: str, psa=None, **settings_overrides):  # type: ignore[no-untyped-def]
    fake = FakeSlack(bot_token=TOKEN).start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        database_url=url,
        rebill_admins="U0ADMIN",
        log_level=os.environ.get("LOG_LEVEL", "WARNING"),
        **settings_overrides,
    )
    server = AppServer(settings, engine, FixedClock(), psa=psa).start()
    sender = SlackSender(server.url + "/slack/events", SECRET, response_url=fake.response_url)
    return fake, server, sender


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def describe(name: str, samples: list[float]) -> str:
    return (
        f"{name:<28} n={len(samples):<5} p50={pct(samples, 50) * 1000:7.2f} ms  "
        f"p99={pct(samples, 99) * 1000:7.2f} ms  mean={statistics.mean(samples) * 1000:7.2f} ms"
    )


# Peak memory of this process, for benches that bill in a child process.
#
# Not `resource.getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries the high-water mark across
# fork + exec, so a child started by a parent that had built a big book reports the PARENT's
# peak (it read 418 MB for both book sizes, whatever the child did). /proc/self/status `VmHWM`
# belongs to the exec'd image alone, and writing "5" to /proc/self/clear_refs resets it, so one
# phase (the bill run, after the imports) can be measured on its own.


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def rss_mb() -> float | None:
    """Resident memory now, in MB (None where /proc is not available)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (since exec, or since `reset_peak_rss`)."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    import resource  # not Linux: the best there is, and it may include the parent's peak

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start a new peak at the current RSS (Linux 4.0+); False if the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True
