"""What the HTTP server refuses before any of Bolt runs, and why.

An outsider can send anything, so the cheap checks come first and nothing is parsed until the
signature matched:

1. Size. Slack's payloads are a few kB (a modal's full state included); 1 MiB is far beyond any
   of them. A `Content-Length` above it is refused at once, and the read itself is capped, so a
   chunked body cannot grow past it either (413). Without this one 100 MB form froze the event
   loop while it was parsed and grew the process by gigabytes.
2. Signature headers. A missing or non-numeric `X-Slack-Request-Timestamp`, or a signature that
   is not `v0=` + 64 hex digits, is refused (401). Letting Bolt parse the timestamp made it raise
   and hand the *unverified* body to the error handler.
3. The HMAC (Slack's v0 scheme) over the raw bytes, within 5 minutes of now (401).
4. Only then is the body decoded and parsed, in a worker thread; a body that cannot be read is
   a 400 with no traceback in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from typing import Final

from starlette.requests import Request

MAX_BODY_BYTES: Final = 1024 * 1024
MAX_CLOCK_SKEW_S: Final = 5 * 60
TIMESTAMP_HEADER: Final = "x-slack-request-timestamp"
SIGNATURE_HEADER: Final = "x-slack-signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() accepts "²"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_LENGTH = re.compile(r"[0-9]{1,19}")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Refuse by headers alone (no body read yet); return them as a plain dict for Bolt."""
    length = headers.get("content-length")
    if length is not None:
        if not _LENGTH.fullmatch(length):
            raise Refused(400, "bad content-length")
        if int(length) > MAX_BODY_BYTES:
            raise Refused(413, "body too large")
    if not _TIMESTAMP.fullmatch(headers.get(TIMESTAMP_HEADER, "")):
        raise Refused(401, "invalid request")
    if not _SIGNATURE.fullmatch(headers.get(SIGNATURE_HEADER, "")):
        raise Refused(401, "invalid request")
    return dict(headers.items())


async def read_capped(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, "body too large")
        chunks.append(chunk)
    return b"".join(chunks)


class SignatureCheck:
    """Slack's v0 request signature, computed over the bytes exactly as received."""

    def __init__(self, signing_secret: str, *, now: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._now = now

    def verify(self, raw: bytes, headers: Mapping[str, str]) -> None:
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        signature = headers.get(SIGNATURE_HEADER, "")
        if not _TIMESTAMP.fullmatch(timestamp) or abs(self._now() - int(timestamp)) > MAX_CLOCK_SKEW_S:
            raise Refused(401, "invalid request")
        expected = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
        if not hmac.compare_digest("v0=" + expected.hexdigest(), signature):
            raise Refused(401, "invalid request")
