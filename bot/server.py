"""The HTTP face of the app: Starlette under uvicorn, one route for everything Slack sends.

The front door, in order, before Bolt sees a byte (bot/front_door.py holds the rules):
size (Content-Length, then a capped read: 413), signature headers present and well formed (401),
HMAC over the raw bytes (401), and only then parsing, off the event loop (malformed: 400).
"""

from __future__ import annotations

import logging
import socket

import uvicorn
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.starlette.handler import to_starlette_response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.front_door import Refused, SignatureCheck, check_headers, read_capped

EVENTS_PATH = "/slack/events"
log = logging.getLogger(__name__)


def build_asgi(app: App, engine: Engine, *, signing_secret: str) -> Starlette:
    signatures = SignatureCheck(signing_secret)

    def verify_parse_dispatch(raw: bytes, headers: dict[str, str], query: str) -> Response:
        """Off the event loop: HMAC over the raw bytes first, then (only if it matched) parse."""
        signatures.verify(raw, headers)
        try:
            request = BoltRequest(body=raw.decode("utf-8"), query=query, headers=headers)
        except Exception:  # any shape Bolt cannot read: the sender's mistake, not ours
            raise Refused(400, "malformed body") from None
        if not isinstance(request.body, dict):
            raise Refused(400, "malformed body")
        return to_starlette_response(app.dispatch(request))

    async def slack_events(request: Request) -> Response:
        try:
            headers = check_headers(request.headers)
            raw = await read_capped(request)
            # Bolt's App is synchronous; dispatching on the event loop would serialise every request.
            return await run_in_threadpool(verify_parse_dispatch, raw, headers, request.url.query)
        except Refused as refusal:
            log.info("refused a request to %s: %s %s", EVENTS_PATH, refusal.status, refusal.reason)
            return JSONResponse({"error": refusal.reason}, status_code=refusal.status)

    def database_ok() -> bool:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def healthz(_request: Request) -> Response:
        ok = await run_in_threadpool(database_ok)
        return JSONResponse(
            {"ok": ok, "database": "ok" if ok else "unreachable"}, status_code=200 if ok else 503
        )

    return Starlette(
        routes=[
            Route(EVENTS_PATH, slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def uvicorn_server(asgi: Starlette, *, log_level: str = "info") -> uvicorn.Server:
    config = uvicorn.Config(asgi, log_level=log_level.lower(), access_log=False, lifespan="off")
    return uvicorn.Server(config)


def listen(host: str, port: int) -> socket.socket:
    """Bind before serving so that callers (and tests) know the port and can connect at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this on Linux. Without it a kept-alive connection waits ~40 ms
    # per response (Nagle + delayed ACK), which would eat into Slack's 3 s for every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
