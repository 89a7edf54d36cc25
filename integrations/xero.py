"""The Xero Accounting API client: one `httpx.Client`, a `TokenSource` and the shared call `Budget`.

Every call: take a token (its `TokenSource`; `core.xero_tokens` keeps them in the database), take a
slot from the call budget (`core.xero_budget`), send,
give the slot back with Xero's remaining-day figure. Retries follow `integrations.http`'s policy
(jittered backoff, `Retry-After` honoured): 429 (the problem Xero names is logged and kept),
5xx, timeouts and dropped connections. A POST or PUT is retried only with the same
`Idempotency-Key`, so a request whose answer was lost creates nothing twice. A 401 renews the
token once. Amounts come back as `Decimal` (never float).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from integrations.http import RetryPolicy, make_http_client, parse_retry_after
from integrations.xero_auth import TokenSource, XeroConfig, XeroError

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # Xero's advice for POST /Invoices and /Contacts: about 50 a request
CONTACT_PAGE = 1000
_MSDATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


class XeroUnavailable(XeroError):
    """Xero could not be reached or kept failing; `outcome_unknown` if a write may have happened."""

    def __init__(self, message: str, *, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


def parse_msdate(value: str | None) -> datetime | None:
    """Xero's `/Date(1764547200000+0000)/` as an aware UTC datetime (None if absent)."""
    if not value:
        return None
    match = _MSDATE.fullmatch(value.strip())
    if match is None:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)


def _number(value: Any) -> Any:
    """JSON numbers for Decimals: shortest round-trip text of ≤ 15 significant digits is exact."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def encode(body: Any) -> bytes:
    return json.dumps(body, default=_number).encode()


class BudgetExhausted(XeroError):
    """The day's 5,000 calls are spent."""


class Budget(Protocol):
    """Xero's per-organisation call limits, shared by every replica (`core.xero_budget.CallBudget`)."""

    waited: float  # seconds spent waiting for a slot, for reports

    def acquire(self, what: str) -> int:
        """Block until a call may start; the call's id (hand it to `release`)."""
        ...

    def release(self, call_id: int, *, day_remaining: int | None = None) -> None: ...


class XeroClient:
    def __init__(
        self,
        *,
        config: XeroConfig,
        tokens: TokenSource,
        budget: Budget,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config, self.tokens, self.budget, self.sleep = config, tokens, budget, sleep
        self.policy = policy or RetryPolicy(max_attempts=5, max_retry_after=120.0)
        self.http = make_http_client(
            base_url=config.api_url.rstrip("/") + "/", timeout=config.timeout, transport=transport
        )
        self.requests = 0
        self._count_lock = threading.Lock()
        self.rate_limited: list[str] = []
        self._rng = random.Random()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> XeroClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # The one way a request goes out

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        if_modified_since: datetime | None = None,
    ) -> Any:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key[:128]
        if if_modified_since is not None:
            # UTC to the second ("...T09:00:00Z"): Xero ignores fractions, and RFC 3339 wants a zone.
            headers["If-Modified-Since"] = if_modified_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        content = encode(body) if body is not None else None
        token = self.tokens.current()
        renewed = False
        problem = "was not tried"
        sent_once = False
        for attempt in range(1, self.policy.max_attempts + 1):
            wait: float | None = None
            call_id = self.budget.acquire(f"{method} {path}")
            remaining = None
            try:
                with self._count_lock:
                    self.requests += 1
                sent_once = True
                response = self.http.request(
                    method,
                    path.lstrip("/"),
                    params=params,
                    content=content,
                    headers={
                        **headers,
                        "Authorization": f"Bearer {token.access_token}",
                        "xero-tenant-id": token.tenant_id,
                    },
                )
                remaining = _int(response.headers.get("X-DayLimit-Remaining"))
            except httpx.TimeoutException:
                problem = "timed out"
            except httpx.TransportError as exc:
                problem = f"could not be reached ({type(exc).__name__})"
            else:
                if response.status_code == 401 and not renewed:
                    renewed = True
                    token = self.tokens.renew_after_refusal(token.access_token)
                    continue
                if response.status_code == 429:
                    limit = response.headers.get("X-Rate-Limit-Problem", "unknown")
                    self.rate_limited.append(limit)
                    log.warning("Xero rate limit (%s) on %s %s", limit, method, path)
                    if limit.lower() == "day":
                        raise BudgetExhausted(
                            "Xero's daily call limit is reached; the rest waits for the next run."
                        )
                    problem = f"refused the call (rate limit: {limit})"
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                elif response.status_code >= 500:
                    problem = f"answered HTTP {response.status_code}"
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                else:
                    return self._decode(response, method, path)
            finally:
                self.budget.release(call_id, day_remaining=remaining)
            if attempt == self.policy.max_attempts:
                break
            if wait is not None and wait > self.policy.max_retry_after:
                break
            self.sleep(wait if wait is not None else self.policy.backoff(attempt, self._rng))
        writes = method in ("POST", "PUT")
        raise XeroUnavailable(
            f"Xero {problem} ({method} {path}); it will be retried on the next run.",
            outcome_unknown=writes and sent_once,
        )

    def _decode(self, response: httpx.Response, method: str, path: str) -> Any:
        try:
            data = json.loads(response.content, parse_float=Decimal) if response.content else {}
        except ValueError:
            raise XeroError(
                f"Xero sent a malformed answer to {method} {path} (HTTP {response.status_code})."
            ) from None
        if response.status_code == 400:
            raise XeroValidation(_validation_message(data), data)
        if response.status_code == 403:
            raise XeroError(
                "Xero refused access to the organisation: reconnect (`rebill-bot xero connect`) or check the custom connection's scopes."
            )
        if response.status_code == 404:
            raise XeroError(f"Xero has no {path}.")
        if response.status_code >= 400:
            raise XeroError(f"Xero answered HTTP {response.status_code} to {method} {path}.")
        return data

    # Reading

    def organisation(self) -> dict[str, Any]:
        return self.call("GET", "/Organisation")["Organisations"][0]

    def accounts(self) -> list[dict[str, Any]]:
        return self.call("GET", "/Accounts", params={"where": 'Status=="ACTIVE"'})["Accounts"]

    def tax_rates(self) -> list[dict[str, Any]]:
        return self.call("GET", "/TaxRates")["TaxRates"]

    def iter_contacts(self) -> Iterator[dict[str, Any]]:
        """Every active contact, 1,000 a page (summary fields only: cheap on the call budget)."""
        page = 1
        while True:
            data = self.call(
                "GET",
                "/Contacts",
                params={"page": str(page), "pageSize": str(CONTACT_PAGE), "summaryOnly": "true"},
            )
            contacts = data.get("Contacts") or []
            yield from contacts
            if len(contacts) < CONTACT_PAGE:
                return
            page += 1

    def invoices_by_number(self, numbers: list[str]) -> list[dict[str, Any]]:
        if not numbers:
            return []
        return (
            self.call("GET", "/Invoices", params={"InvoiceNumbers": ",".join(numbers)}).get("Invoices") or []
        )

    def iter_invoices_changed(
        self, since: datetime | None, statuses: str = "AUTHORISED,PAID,VOIDED"
    ) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            data = self.call(
                "GET", "/Invoices", params={"page": str(page), "Statuses": statuses}, if_modified_since=since
            )
            invoices = data.get("Invoices") or []
            yield from invoices
            if len(invoices) < 100:
                return
            page += 1

    # Writing (batches; per-item errors come back in each item's ValidationErrors)

    def save(self, collection: str, items: list[dict[str, Any]], *, key: str) -> list[dict[str, Any]]:
        params = {"summarizeErrors": "false"}
        if collection in ("Invoices", "CreditNotes"):
            params["unitdp"] = "4"
        data = self.call(
            "POST", f"/{collection}", params=params, body={collection: items}, idempotency_key=key
        )
        return data.get(collection) or []

    def set_status(self, collection: str, xero_id: str, status: str, *, key: str) -> dict[str, Any]:
        id_field = "InvoiceID" if collection == "Invoices" else "CreditNoteID"
        data = self.call(
            "POST",
            f"/{collection}/{xero_id}",
            body={collection: [{id_field: xero_id, "Status": status}]},
            idempotency_key=key,
        )
        return (data.get(collection) or [{}])[0]

    def allocate(
        self, credit_note_id: str, invoice_id: str, amount: Decimal, on: date, *, key: str
    ) -> dict[str, Any]:
        body = {
            "Allocations": [{"Invoice": {"InvoiceID": invoice_id}, "Amount": amount, "Date": on.isoformat()}]
        }
        data = self.call(
            "PUT",
            f"/CreditNotes/{credit_note_id}/Allocations",
            params={"summarizeErrors": "false"},
            body=body,
            idempotency_key=key,
        )
        return (data.get("Allocations") or [{}])[0]


class XeroValidation(XeroError):
    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.data = data


def _validation_message(data: Any) -> str:
    if isinstance(data, dict):
        messages = [
            error.get("Message", "")
            for element in data.get("Elements") or []
            for error in element.get("ValidationErrors") or []
        ]
        if messages:
            return "Xero refused it: " + "; ".join(dict.fromkeys(messages))
        if data.get("Message"):
            return f"Xero refused it: {data['Message']}"
    return "Xero refused the request (HTTP 400)."


def item_errors(item: dict[str, Any]) -> str | None:
    """The per-item validation errors of a `summarizeErrors=false` answer, joined; None if it saved."""
    errors = [e.get("Message", "") for e in item.get("ValidationErrors") or []]
    if not errors and not item.get("HasErrors"):
        return None
    return "; ".join(dict.fromkeys(m for m in errors if m)) or "Xero refused it without a reason"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
