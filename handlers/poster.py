"""Channel posting with Slack etiquette: about one message per second per channel, and 429s waited
out (slack_sdk's RateLimitErrorRetryHandler honours Retry-After; see bot.app.make_web_client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient

PER_CHANNEL_INTERVAL = 1.0


class Poster:
    def __init__(
        self,
        client: WebClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._sleep = sleep
        self._monotonic = monotonic
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        with self._lock:
            last = self._last.get(channel)
            if last is not None:
                wait = PER_CHANNEL_INTERVAL - (self._monotonic() - last)
                if wait > 0:
                    self._sleep(wait)
            extra = {"metadata": metadata} if metadata else {}
            response = self._client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False, **extra
            )
            self._last[channel] = self._monotonic()
        return str(response["ts"])
