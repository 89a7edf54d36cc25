"""The HTTP face of the app: Starlette under uvicorn, one route for everything Slack sends."""

from __future__ import annotations

import socket

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EVENTS_PATH = "/slack/events"


def build_asgi(app: App, engine: Engine) -> Starlette:
    async def slack_events(request: Request) -> Response:
        body = await request.body()
        # Bolt's App is synchronous; dispatching on the event loop would serialise every request.
        bolt_response = await run_in_threadpool(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

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
