"""Where listener code runs and where slow work goes, so that no Slack ack ever waits for SMTP.

Two bounded pools, built once per app by `create_app` and reached as `deps.workers`:

listeners
    Runs each listener up to (and a little past) its ack: parse, a short query, `views.open`.
    The request thread waits on an Event that the ack sets (handlers.base.listener), not on
    Bolt's 10 ms polling loop, and answers Slack the moment the listener acks.
slow
    Everything that waits on someone else: SMTP sends, PDF rendering, bill runs, Send all, PSA
    calls. A silent mail server can fill this pool and nothing else: acks keep flowing on the
    listener pool. Its queue is bounded too; when it is full `submit` raises `Busy` ("rebill-bot
    is busy, try again in a moment") rather than queue work the user will have given up on.

Adopting it in a listener (the only API handlers need is `Call.later`, in handlers.base):

    def send(call: Call) -> None:
        call.ack()                                    # Slack has its answer now
        call.later(_send)                             # the rest runs on the slow pool

    def _send(call: Call) -> None:                    # same Call, with a fresh DB session
        result = deliver(call, ...)                   # slow
        call.client.views_update(...)                 # report the result when done: the view,
                                                      # call.respond(...) or chat_postEphemeral

A job's session commits when it returns and rolls back if it raises; any error reaches the user
through handlers.errors exactly as a listener's would. Outside calls made on interactive paths
cap their timeouts at `INTERACTIVE_TIMEOUT_S` (see `interactive_timeout`), so a user waiting for
a result hears within seconds, not SMTP_TIMEOUT's minutes.

What can race: nothing here holds state between requests; jobs claim their side effects in the
database (core.delivery, core.billrun) exactly as they did on the listener threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from core.errors import Busy

LISTENER_THREADS: Final = 16
SLOW_THREADS: Final = 16  # mostly waiting on sockets (SMTP, PSA, Slack uploads)
SLOW_QUEUE: Final = 200  # running + waiting; beyond this a click is refused as busy
INTERACTIVE_TIMEOUT_S: Final = 15.0


def interactive_timeout(configured: float) -> float:
    """An outside call made for a user waiting in Slack: never longer than INTERACTIVE_TIMEOUT_S."""
    return min(configured, INTERACTIVE_TIMEOUT_S)


class WorkPool:
    """An executor with a cap on running + waiting jobs, refusing (Busy) instead of queueing forever."""

    def __init__(self, executor: Executor, *, max_pending: int) -> None:
        self.executor = executor
        self._slots = threading.BoundedSemaphore(max_pending)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if not self._slots.acquire(blocking=False):
            raise Busy()
        try:
            future = self.executor.submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _future: self._slots.release())
        return future

    def shutdown(self, *, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait)


@dataclass(frozen=True)
class Workers:
    listeners: WorkPool
    slow: WorkPool

    @classmethod
    def build(
        cls, *, listener_executor: Executor | None = None, slow_executor: Executor | None = None
    ) -> Workers:
        listeners = listener_executor or ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="listener")
        slow = slow_executor or ThreadPoolExecutor(SLOW_THREADS, thread_name_prefix="slow")
        # The listener pool's own queue is bounded by the HTTP server's thread limit (one waiting
        # request thread per queued listener), so its cap only guards against a runaway loop.
        return cls(
            listeners=WorkPool(listeners, max_pending=1000), slow=WorkPool(slow, max_pending=SLOW_QUEUE)
        )

    def shutdown(self, *, wait: bool = True) -> None:
        self.listeners.shutdown(wait=wait)
        self.slow.shutdown(wait=wait)
