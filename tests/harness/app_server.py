"""The app's real HTTP server (the code `serve` runs), on an ephemeral port in a thread."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.server import build_asgi, listen, uvicorn_server
from bot.settings import Settings
from core.clock import Clock
from integrations.config import PsaSettings


class TrackingExecutor(ThreadPoolExecutor):
    """Listeners (and slow work) run here after the ack; tests wait until that work is really finished."""

    def __init__(self, name: str = "listener", workers: int = 8) -> None:
        super().__init__(max_workers=workers, thread_name_prefix=name)
        self._pending = 0
        self._cond = threading.Condition()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._cond:
            self._pending += 1
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle(self, timeout: float = 15.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._pending == 0, timeout=timeout):
                raise AssertionError("listeners still running after the timeout")


class AppExecutors:
    """The app's two pools (core.workpool): idle means no listener and no slow job is left."""

    def __init__(self) -> None:
        self.listeners = TrackingExecutor("listener")
        self.slow = TrackingExecutor("slow", workers=16)

    def wait_idle(self, timeout: float = 15.0) -> None:
        # A listener may hand work to the slow pool as it finishes; a slow job never starts listeners.
        while True:
            self.listeners.wait_idle(timeout)
            self.slow.wait_idle(timeout)
            if self.listeners.pending == 0:
                return

    def shutdown(self, *, wait: bool = True) -> None:
        self.listeners.shutdown(wait=wait)
        self.slow.shutdown(wait=wait)


class AppServer:
    def __init__(
        self, settings: Settings, engine: Engine, clock: Clock, psa: PsaSettings | None = None
    ) -> None:
        self.executor = AppExecutors()
        # Tests never pick up a developer's REBILL_PSA from the environment or .env.
        psa = psa if psa is not None else PsaSettings(_env_file=None, rebill_psa=None)  # type: ignore[call-arg]
        self.app = create_app(
            settings,
            engine=engine,
            clock=clock,
            listener_executor=self.executor.listeners,
            slow_executor=self.executor.slow,
            psa=psa,
        )
        self._sock = listen("127.0.0.1", 0)
        self._server = uvicorn_server(
            build_asgi(self.app, engine, signing_secret=settings.slack_signing_secret.get_secret_value()),
            log_level="warning",
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> AppServer:
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.executor.wait_idle()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.executor.shutdown(wait=True)
        self._sock.close()
