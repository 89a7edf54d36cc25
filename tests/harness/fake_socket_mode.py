"""Slack's Socket Mode end, faked: a WebSocket server on 127.0.0.1 that says hello, pushes
envelopes (slash commands, interactions) and collects the app's acknowledgements."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._server = serve(self._session, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=test"

    def _session(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0REBILL"}})
        )
        self.connected.set()
        reader = threading.Thread(target=self._read, args=(connection,), daemon=True)
        reader.start()
        while reader.is_alive():
            try:
                envelope = self._outgoing.get(timeout=0.2)
            except queue.Empty:
                continue
            connection.send(json.dumps(envelope))

    def _read(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the app going away ends the session
            for message in connection:
                self.acks.put(json.loads(message))

    def push(self, envelope: dict[str, Any]) -> None:
        self._outgoing.put(envelope)

    def stop(self) -> None:
        self._server.shutdown()
