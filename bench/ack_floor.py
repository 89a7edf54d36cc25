"""Ack times of `/rebill help` against the floor, idle and with 10 SMTP sends held open (issue 10).

The floor is a bare Starlette endpoint on the same machine that only verifies the Slack signature
(bot.front_door, the same check the app runs) and returns the usage JSON; both are served by
uvicorn on a kept-alive connection, so the difference is what Bolt and our listener plumbing cost.

Usage: python bench/ack_floor.py [--quick] [--requests N] [--postgres URL]
Goals: help p50 <= 3x floor p50 and p99 <= 5x floor p99; p99 with 10 sends held <= 1.5x idle p99.
"""

from __future__ import annotations

import argparse
import threading
import time

from _common import SECRET, database_url, describe, fresh_engine, pct, start_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.front_door import Refused, SignatureCheck, check_headers, read_capped
from bot.server import listen, uvicorn_server
from handlers.subcommands import help_blocks, help_text
from tests import factories
from tests.harness.slack_sender import SlackSender
from tests.harness.smtp import SilentServer

HELD = 10


def floor_server() -> tuple[str, object]:
    signatures = SignatureCheck(SECRET)
    usage = {"response_type": "ephemeral", "text": help_text(), "blocks": help_blocks()}

    async def events(request: Request) -> Response:
        try:
            headers = check_headers(request.headers)
            signatures.verify(await read_capped(request), headers)
        except Refused as refusal:
            return JSONResponse({"error": refusal.reason}, status_code=refusal.status)
        return JSONResponse(usage)

    sock = listen("127.0.0.1", 0)
    server = uvicorn_server(
        Starlette(routes=[Route("/slack/events", events, methods=["POST"])]), log_level="warning"
    )
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}/slack/events", server


def timed(sender: SlackSender, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = sender.command("help", wait=False)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and "rebill-bot usage" in response.json()["text"], response.text
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int)
    parser.add_argument("--postgres", help="postgresql+psycopg:// URL of an empty database to use")
    args = parser.parse_args()
    n = args.requests or (50 if args.quick else 200)

    url = database_url(args.postgres)
    engine = fresh_engine(url)
    ids = factories.invoices_to_send(engine, HELD)
    silent = SilentServer()
    fake, server, sender = start_app(
        engine,
        url,
        smtp_host="127.0.0.1",
        smtp_port=silent.port,
        smtp_security="none",
        rebill_from_email="billing@msp.example",
        smtp_timeout=60,
    )
    floor_url, floor = floor_server()
    floor_sender = SlackSender(floor_url, SECRET, response_url=fake.response_url)
    try:
        timed(floor_sender, 20)
        timed(sender, 20)  # warm up both
        floor_samples, idle = [], []
        for _ in range(n):  # interleaved, so both see the same machine
            floor_samples += timed(floor_sender, 1)
            idle += timed(sender, 1)

        view = {"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"}
        for invoice_id in ids:
            sender.block_action("invoice_send", value=str(invoice_id), view=view, wait=False)
        silent.wait_held(HELD, timeout=120)  # rendered, now waiting on the mail server
        held_before = silent.held
        held = timed(sender, n)
        held_after = server.executor.slow.pending
    finally:
        silent.stop()
        server.executor.wait_idle(timeout=120)
        server.stop()
        floor.should_exit = True  # type: ignore[attr-defined]
        fake.stop()
    print(f"database: {engine.dialect.name}, requests each: {n}")
    print(describe("floor (bare Starlette)", floor_samples))
    print(describe("/rebill help, idle", idle))
    print(describe(f"/rebill help, {HELD} sends held", held))
    print(f"SMTP connections held open: {held_before} at start; sends still pending at end: {held_after}")
    p50 = pct(idle, 50) / pct(floor_samples, 50)
    p99 = pct(idle, 99) / pct(floor_samples, 99)
    print(f"help vs floor: p50 {p50:.2f}x (goal <= 3x)  p99 {p99:.2f}x (goal <= 5x)")
    print(f"held vs idle p99: {pct(held, 99) / pct(idle, 99):.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
