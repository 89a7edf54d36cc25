"""HTTP plumbing shared by every PSA client: one retry policy, one paginator, one JSON decoder.

Written once so that a fix (say, honouring an HTTP-date `Retry-After`) reaches all vendors at the
same time. The policy is small and composable in the githubkit manner: a client passes a zero-argument
`send` callable (so it can wrap the wire call in its own semaphore or throttle) and, optionally, its
own idea of which responses are worth retrying.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpx

from integrations.base import PsaError, PsaUnavailable

T = TypeVar("T")
C = TypeVar("C", bound=Hashable)

Sleep = Callable[[float], None]

DEFAULT_TIMEOUT = 30.0
USER_AGENT = "rebill-bot/0.1 (+https://github.com/rebill-bot)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the user the PSA is unavailable.

    Backoff is capped exponential with "equal jitter" (half fixed, half random), so many workers
    that failed together do not retry together, yet no wait collapses to ~0. A `Retry-After` from
    the server wins over our own backoff: the server knows when its window resets.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 300.0
    retry_statuses: frozenset[int] = field(default=RETRY_STATUSES)

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait before retry number `attempt` (1-based) when the server gave no Retry-After."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date; None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def default_should_retry(response: httpx.Response, policy: RetryPolicy) -> bool:
    return response.status_code in policy.retry_statuses


def call_with_retry(
    send: Callable[[], httpx.Response],
    *,
    vendor: str,
    policy: RetryPolicy,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
    should_retry: Callable[[httpx.Response, RetryPolicy], bool] = default_should_retry,
) -> httpx.Response:
    """Run `send()` until it gives a response not worth retrying, or the attempts run out.

    Retries: statuses in the policy (429, 5xx), timeouts and connection errors. Returns the final
    response (the caller maps 4xx to domain errors); raises `PsaUnavailable` when giving up.
    """
    rng = rng or random.Random()
    problem = "no attempt made"
    for attempt in range(1, policy.max_attempts + 1):
        retry_after: float | None = None
        try:
            response = send()
        except httpx.TimeoutException:
            problem = "timed out"
        except httpx.TransportError as exc:
            problem = f"could not be reached ({type(exc).__name__})"
        else:
            _break_stream_cycle(response)
            if not should_retry(response, policy):
                return response
            problem = f"answered HTTP {response.status_code}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            response.close()
        if attempt == policy.max_attempts:
            break
        if retry_after is not None:
            if retry_after > policy.max_retry_after:
                raise PsaUnavailable(
                    f"{vendor} {problem} and asked us to wait {retry_after:.0f} s; try again later."
                )
            wait = retry_after
        else:
            wait = policy.backoff(attempt, rng)
        sleep(wait)
    raise PsaUnavailable(f"{vendor} {problem} on each of {policy.max_attempts} attempts; try again later.")


def _break_stream_cycle(response: httpx.Response) -> None:
    """Let a read response be freed as soon as the caller drops it.

    httpx binds a response's stream back to the response (a reference cycle), so each page lived
    until the cyclic GC ran: on a 100-page sync that showed up as memory growing with the number of
    companies. The body is already read (we never stream), so the stream is no longer needed.
    """
    if response.is_closed:
        response.stream = httpx.ByteStream(b"")


def json_body(response: httpx.Response, vendor: str) -> Any:
    """The decoded body, or a `PsaError` that says the PSA sent garbage (not a JSONDecodeError trace)."""
    try:
        return response.json()
    except ValueError:
        snippet = response.text[:80].replace("\n", " ")
        raise PsaError(
            f"{vendor} sent a malformed response (HTTP {response.status_code}, not JSON: {snippet!r})."
        ) from None


@dataclass(frozen=True)
class Page(Generic[T, C]):
    """One page of results and the cursor of the next page (None on the last page)."""

    items: Sequence[T]
    next: C | None


def paginate(
    first: C, fetch: Callable[[C], Page[T, C]], *, vendor: str, max_pages: int = 10_000
) -> Iterator[T]:
    """Yield every item of every page lazily, following each page's `next` cursor.

    The cursor is whatever the vendor uses (a URL, a page number, a last-seen id). A server that
    hands back a cursor it already gave us would loop forever; we stop with a clear error instead.
    Pages are fetched only as the caller consumes items, so memory holds one page at a time.
    """
    cursor: C | None = first
    seen: set[C] = set()
    while cursor is not None:
        if cursor in seen or len(seen) >= max_pages:
            raise PsaError(f"{vendor} paging did not end (cursor {cursor!r} repeated or too many pages).")
        seen.add(cursor)
        page = fetch(cursor)
        yield from page.items
        cursor = page.next


def make_http_client(
    *,
    base_url: str,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
) -> httpx.Client:
    """The defaults every vendor's `httpx.Client` shares, gathered in one place."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        auth=auth,
        follow_redirects=False,
    )


def ensure_slash(url: str) -> str:
    """httpx joins relative paths onto a base URL only as expected when the base ends in '/'."""
    return url if url.endswith("/") else url + "/"
