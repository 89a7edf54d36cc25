"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives and can refuse on cue."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage


@dataclass
class SmtpSink:
    """Handler for aiosmtpd: records messages; `refuse_rcpt`/`refuse_data` answer with an SMTP error."""

    received: list[Received] = field(default_factory=list)
    refuse_rcpt: str | None = None
    refuse_rcpt_for: dict[str, str] = field(default_factory=dict)  # address → SMTP reply
    refuse_data: str | None = None
    hang_after_data: bool = False  # take the whole message, then never answer (a sender may die waiting)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self.data_seen = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        if address in self.refuse_rcpt_for:
            return self.refuse_rcpt_for[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data
        if self.hang_after_data:
            self.data_seen.set()
            while not self.release.is_set():  # the server's own loop, not the test, waits here
                await asyncio.sleep(0.05)
            return "421 Closing"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._cond:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            self._cond.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.sink = SmtpSink()
        self.port = free_port()
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self.sink.release.set()
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.sink.received


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP server that times out.

    It holds every connection it accepted (`held`) until `stop`, which resets them all, so a test
    can wait until N senders are really stuck on it, then release them at once.
    """

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._cond:
                self._held.append(conn)
                self._cond.notify_all()

    @property
    def held(self) -> int:
        with self._cond:
            return len(self._held)

    def wait_held(self, count: int, timeout: float = 30.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._held) >= count, timeout=timeout):
                raise AssertionError(f"{len(self._held)} connection(s) held, expected {count}")

    def stop(self) -> None:
        self._sock.close()
        with self._cond:
            for conn in self._held:
                conn.close()
