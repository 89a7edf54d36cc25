"""The one retry policy and the one paginator, exercised over real HTTP against a local server."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from integrations.base import PsaError, PsaUnavailable
from integrations.http import Page, RetryPolicy, call_with_retry, json_body, paginate, parse_retry_after
from tests.harness.fake_psa import FakePsaServer, RecordingSleep, Request, Response


class EchoServer(FakePsaServer):
    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        return "echo", lambda _r: (200, {"ok": True}, {})


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer() as fake:
        yield fake


def call(
    server: EchoServer, sleep: RecordingSleep, *, timeout: float = 5.0, policy: RetryPolicy | None = None
) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=timeout) as http:
        return call_with_retry(
            lambda: http.get("/thing"),
            vendor="Vendor",
            policy=policy or RetryPolicy(max_attempts=4),
            sleep=sleep,
            rng=random.Random(7),
        )


def test_retry_after_is_honoured_exactly(server: EchoServer) -> None:
    sleep = RecordingSleep()
    server.fail_next("echo", status=429, retry_after="1")
    server.fail_next("echo", status=503, retry_after="0")
    assert call(server, sleep).json() == {"ok": True}
    assert sleep.waits == [1.0, 0.0]
    assert len(server.requests) == 3


def test_backoff_without_retry_after_is_capped_exponential_with_jitter(server: EchoServer) -> None:
    sleep = RecordingSleep()
    policy = RetryPolicy(max_attempts=6, backoff_base=1.0, backoff_max=4.0)
    server.fail_next("echo", status=502, times=5)
    assert call(server, sleep, policy=policy).status_code == 200
    ceilings = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(sleep.waits) == 5
    for wait, ceiling in zip(sleep.waits, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling


def test_gives_up_with_a_clear_error_after_max_attempts(server: EchoServer) -> None:
    sleep = RecordingSleep()
    server.fail_next("echo", status=503, times=10)
    with pytest.raises(PsaUnavailable, match=r"Vendor answered HTTP 503 on each of 3 attempts"):
        call(server, sleep, policy=RetryPolicy(max_attempts=3))
    assert len(server.requests) == 3
    assert len(sleep.waits) == 2


def test_a_retry_after_beyond_our_patience_stops_at_once(server: EchoServer) -> None:
    server.fail_next("echo", status=429, retry_after="3600")
    with pytest.raises(PsaUnavailable, match="asked us to wait 3600 s"):
        call(server, RecordingSleep(), policy=RetryPolicy(max_retry_after=60))
    assert len(server.requests) == 1


def test_a_timeout_is_retried(server: EchoServer) -> None:
    sleep = RecordingSleep()
    server.fail_next("echo", hold=True)
    assert call(server, sleep, timeout=0.3).json() == {"ok": True}
    assert len(server.requests) == 2 and len(sleep.waits) == 1


def test_connection_errors_are_retried_then_reported() -> None:
    dead = EchoServer().start()
    url = dead.base_url
    dead.stop()
    sleep = RecordingSleep()
    with httpx.Client(timeout=1.0) as http, pytest.raises(PsaUnavailable, match="could not be reached"):
        call_with_retry(
            lambda: http.get(url), vendor="Vendor", policy=RetryPolicy(max_attempts=3), sleep=sleep
        )
    assert len(sleep.waits) == 2


def test_client_errors_are_not_retried(server: EchoServer) -> None:
    server.fail_next("echo", status=400, body='{"errors": ["bad"]}')
    assert call(server, RecordingSleep()).status_code == 400
    assert len(server.requests) == 1


def test_malformed_json_is_a_clear_error(server: EchoServer) -> None:
    server.fail_next("echo", status=200, body="{not json")
    response = call(server, RecordingSleep())
    with pytest.raises(PsaError, match="Vendor sent a malformed response"):
        json_body(response, "Vendor")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("1.5", 1.5), ("", None), (None, None), ("soon", None), ("-3", 0.0)],
)
def test_parse_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0


def test_paginate_is_lazy_and_follows_cursors() -> None:
    fetched: list[int] = []

    def fetch(page: int) -> Page[int, int]:
        fetched.append(page)
        return Page(items=[page * 10, page * 10 + 1], next=page + 1 if page < 3 else None)

    items = paginate(1, fetch, vendor="Vendor")
    assert next(items) == 10
    assert fetched == [1]
    assert list(items) == [11, 20, 21, 30, 31]
    assert fetched == [1, 2, 3]


def test_paginate_stops_a_server_that_repeats_a_cursor() -> None:
    with pytest.raises(PsaError, match="paging did not end"):
        list(paginate("a", lambda c: Page(items=[1], next="b" if c == "a" else "a"), vendor="Vendor"))
