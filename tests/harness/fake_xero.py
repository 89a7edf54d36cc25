"""A fake Xero (identity server + Accounting API) over real HTTP on 127.0.0.1.

Built from Xero's published OpenAPI document for the Accounting API (XeroAPI/Xero-OpenAPI,
`xero_accounting.yaml`, MIT; copied to `tests/harness/xero_openapi/` with its licence): every API
request is checked against that document by `tests.harness.openapi_check` (unknown body fields,
read-only fields, undeclared query parameters, bad enums, missing `xero-tenant-id`), and a request
that departs from it is answered 400 and recorded in `violations`, which the test fixture turns into
a failure. Behaviour the document does not state comes from Xero's developer docs as summarised in
`../shared/REFERENCE.md`: per-organisation limits (60/minute, 5,000/day, 5 concurrent; 429 with
`Retry-After` and `X-Rate-Limit-Problem`), `summarizeErrors=false` per-item `ValidationErrors`,
`Idempotency-Key` replays, `/Date(ms+0000)/` dates, single-use rotating refresh tokens.

Where the fake is stricter than Xero is known to be (a `TaxAmount` override more than a cent away
from the line's own tax is refused), it is so to catch a cent going astray in our mapping.

Outages: `fail_next(route, times, status=503)` answers with an error, `hang_after=True` does the work
and then holds the response (so the client times out not knowing it succeeded). Held responses wait
on an Event that `stop()`/`release()` sets: no test sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

from tests.harness.openapi_check import check_request

API_PREFIX = "/api.xro/2.0"
CENT = Decimal("0.01")
TAX_RATES = {  # An Australian organisation's own list (GET /TaxRates), as Xero names them.
    "OUTPUT": ("GST on Income", Decimal("10")),
    "EXEMPTOUTPUT": ("GST Free Income", Decimal("0")),
    "INPUT": ("GST on Expenses", Decimal("10")),
    "BASEXCLUDED": ("BAS Excluded", Decimal("0")),
}
ACCOUNTS = [
    ("200", "Sales", "REVENUE"),
    ("260", "Other Revenue", "REVENUE"),
    ("400", "Advertising", "EXPENSE"),
    ("090", "Business Bank Account", "BANK"),
]


def msdate(value: datetime | date) -> str:
    """Xero's JSON date: `/Date(milliseconds since the epoch+0000)/`."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return f"/Date({int(value.timestamp() * 1000)}+0000)/"


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Fault:
    status: int = 503
    hang_after: bool = False
    retry_after: str | None = None


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = field(default_factory=time.monotonic)  # when it arrived (benches read the pacing)


@dataclass
class Doc:
    """An invoice or credit note as Xero holds it."""

    kind: str  # "invoice" | "credit_note"
    id: str
    data: dict[str, Any]
    lines: list[dict[str, Any]]
    updated: datetime
    payments: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    credited: Decimal = Decimal("0.00")

    @property
    def number(self) -> str:
        return self.data.get("InvoiceNumber" if self.kind == "invoice" else "CreditNoteNumber") or ""

    @property
    def status(self) -> str:
        return self.data.get("Status", "DRAFT")

    @property
    def subtotal(self) -> Decimal:
        return sum((Decimal(line["LineAmount"]) for line in self.lines), Decimal("0.00"))

    @property
    def total_tax(self) -> Decimal:
        return sum((Decimal(line["TaxAmount"]) for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.total_tax

    @property
    def paid(self) -> Decimal:
        return sum((p["Amount"] for p in self.payments), Decimal("0.00"))

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.paid - self.credited


class FakeXero:
    """One Xero organisation (tenant) behind a token server, with Xero's limits."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 - the fake's own test secret
        org_name: str = "Demo MSP Pty Ltd",
        clock: Any = None,
        minute_limit: int = 60,
        day_limit: int = 5000,
        concurrent_limit: int = 5,
        hold_seconds: float = 30.0,
        window: timedelta = timedelta(minutes=1),
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.tenant_id = str(uuid.uuid4())
        self.org_name = org_name
        self.clock = clock or _Clock()
        self.minute_limit, self.day_limit, self.concurrent_limit = minute_limit, day_limit, concurrent_limit
        self.hold_seconds = hold_seconds
        self.window = window
        self.contacts: dict[str, dict[str, Any]] = {}
        self.docs: dict[str, Doc] = {}
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.refusals: list[str] = []  # X-Rate-Limit-Problem of each 429 given
        self.max_in_flight = 0
        self.access_tokens: dict[str, datetime] = {}
        self.refresh_tokens: dict[str, bool] = {}  # token -> still usable
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.token_grants: list[str] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._idempotent: dict[str, tuple[int, bytes]] = {}
        self._window: deque[datetime] = deque()
        self._day: deque[datetime] = deque()
        self._in_flight = 0
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._held = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # Life cycle

    def start(self) -> FakeXero:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._held.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def wait_in_flight(self, count: int, timeout: float = 10.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == count, timeout=timeout)

    def release(self) -> None:
        """Let held responses go, and wait until they have (event-based, no sleeping)."""
        self._held.set()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=10)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def token_url(self) -> str:
        return self.base_url + "/connect/token"

    @property
    def authorize_url(self) -> str:
        return self.base_url + "/identity/connect/authorize"

    @property
    def connections_url(self) -> str:
        return self.base_url + "/connections"

    # Test controls

    def fail_next(self, route: str, *, times: int = 1, **fault: Any) -> None:
        """`route` is "METHOD /Path" below the API prefix, e.g. "POST /Invoices", or "token"."""
        with self._lock:
            self._faults.setdefault(route, deque()).extend(Fault(**fault) for _ in range(times))

    def api_calls(self, method: str | None = None, path: str | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.path.startswith(API_PREFIX)
            and (method is None or c.method == method)
            and (path is None or c.path == API_PREFIX + path)
        ]

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens = {token: datetime(2000, 1, 1, tzinfo=UTC) for token in self.access_tokens}

    def expire_refresh_tokens(self) -> None:
        with self._lock:
            self.refresh_tokens = dict.fromkeys(self.refresh_tokens, False)

    def add_contact(self, name: str, *, number: str | None = None, status: str = "ACTIVE") -> str:
        """Seed a contact as someone typed it into Xero (no uniqueness check: duplicates exist)."""
        contact_id = str(uuid.uuid4())
        self.contacts[contact_id] = {
            "ContactID": contact_id,
            "Name": name,
            "ContactNumber": number,
            "ContactStatus": status,
            "UpdatedDateUTC": self.clock.now(),
        }
        return contact_id

    def invoices(self, kind: str = "invoice") -> list[Doc]:
        return [d for d in self.docs.values() if d.kind == kind]

    def by_number(self, number: str, kind: str = "invoice") -> list[Doc]:
        return [d for d in self.invoices(kind) if d.number == number]

    def record_payment(self, number: str, amount: Decimal, on: date) -> None:
        """A payment entered in Xero against the live invoice with this number."""
        with self._lock:
            [doc] = [d for d in self.by_number(number) if d.status == "AUTHORISED"]
            doc.payments.append({"PaymentID": str(uuid.uuid4()), "Amount": amount, "Date": on})
            self._settle(doc, on)

    def _settle(self, doc: Doc, on: date) -> None:
        if doc.amount_due <= 0:
            doc.data["Status"] = "PAID"
            doc.data["FullyPaidOnDate"] = on
        doc.updated = self.clock.now()

    # HTTP

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urlparse(handler.path)
        query = dict(parse_qsl(parsed.query, keep_blank_values=True))
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items()}
        call = Call(method, parsed.path, query, headers, None)
        with self._lock:
            self.calls.append(call)
        if parsed.path == "/connect/token":
            status, body, extra = self._token(raw, headers)
        elif parsed.path == "/identity/connect/authorize":
            status, body, extra = self._authorize(query)
        elif parsed.path == "/connections":
            status, body, extra = self._connections(headers)
        elif parsed.path.startswith(API_PREFIX):
            self._api(handler, method, parsed.path[len(API_PREFIX) :], query, headers, raw, call)
            return
        else:
            status, body, extra = 404, {"Message": "not found"}, {}
        call.status = status
        _send(handler, status, body, extra)

    def _take_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route)
            return queue.popleft() if queue else None

    # Identity

    def _token(self, raw: bytes, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        fault = self._take_fault("token")
        if fault is not None:
            return fault.status, {"error": "server_error"}, {}
        form = dict(parse_qsl(raw.decode()))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        grant = form.get("grant_type", "")
        self.token_grants.append(grant)
        if client_id != self.client_id or (secret != self.client_secret and grant != "authorization_code"):
            return 400, {"error": "invalid_client"}, {}
        if grant == "client_credentials":
            return 200, self._issue(refresh=False, scope=form.get("scope", "")), {}
        if grant == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None:
                return 400, {"error": "invalid_grant"}, {}
            challenge, redirect = code
            verifier = form.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != challenge or form.get("redirect_uri") != redirect:
                return 400, {"error": "invalid_grant"}, {}
            return 200, self._issue(refresh=True, scope=""), {}
        if grant == "refresh_token":
            with self._lock:
                token = form.get("refresh_token", "")
                if not self.refresh_tokens.get(token):
                    return 400, {"error": "invalid_grant"}, {}
                self.refresh_tokens[token] = False  # single use: rotates on every refresh
            return 200, self._issue(refresh=True, scope=""), {}
        return 400, {"error": "unsupported_grant_type"}, {}

    def _issue(self, *, refresh: bool, scope: str) -> dict[str, Any]:
        token = "at-" + uuid.uuid4().hex
        with self._lock:
            self.access_tokens[token] = self.clock.now() + timedelta(minutes=30)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": 1800,
            "token_type": "Bearer",
            "scope": scope,
        }
        if refresh:
            refresh_token = "rt-" + uuid.uuid4().hex
            with self._lock:
                self.refresh_tokens[refresh_token] = True
            body["refresh_token"] = refresh_token
        return body

    def _authorize(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The user says yes at once: redirect back with a code (Xero shows a consent page first)."""
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256":
            return 400, {"error": "invalid_request"}, {}
        if "offline_access" not in query.get("scope", "").split():
            return 400, {"error": "offline_access scope missing"}, {}
        code = uuid.uuid4().hex
        self.codes[code] = (query.get("code_challenge", ""), query.get("redirect_uri", ""))
        location = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return 302, {}, {"Location": location}

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        expires = self.access_tokens.get(auth.removeprefix("Bearer "))
        return expires is not None and expires > self.clock.now()

    def _connections(self, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if not self._bearer_ok(headers):
            return 401, {"Title": "Unauthorized", "Status": 401}, {}
        return (
            200,
            [
                {
                    "id": str(uuid.uuid4()),
                    "tenantId": self.tenant_id,
                    "tenantType": "ORGANISATION",
                    "tenantName": self.org_name,
                }
            ],
            {},
        )

    # Accounting API

    def _limit_headers(self) -> dict[str, str]:
        return {
            "X-MinLimit-Remaining": str(max(0, self.minute_limit - len(self._window))),
            "X-DayLimit-Remaining": str(max(0, self.day_limit - len(self._day))),
            "X-AppMinLimit-Remaining": "9999",
        }

    def _admit(self) -> tuple[str, int] | None:
        """Count this call against the limits, or say which limit refuses it and for how long."""
        now = self.clock.now()
        with self._lock:
            while self._window and self._window[0] <= now - self.window:
                self._window.popleft()
            while self._day and self._day[0] <= now - timedelta(days=1):
                self._day.popleft()
            if self._in_flight >= self.concurrent_limit:
                return "concurrent", 1
            if len(self._day) >= self.day_limit:
                return "day", math.ceil((self._day[0] + timedelta(days=1) - now).total_seconds())
            if len(self._window) >= self.minute_limit:
                return "minute", max(1, math.ceil((self._window[0] + self.window - now).total_seconds()))
            self._window.append(now)
            self._day.append(now)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self._idle.notify_all()
        return None

    def _api(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        raw: bytes,
        call: Call,
    ) -> None:
        if not self._bearer_ok(headers):
            call.status = 401
            _send(
                handler, 401, {"Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired"}
            )
            return
        lowered = {k.lower(): v for k, v in headers.items()}
        if lowered.get("xero-tenant-id") not in (None, self.tenant_id):
            call.status = 403
            _send(handler, 403, {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"})
            return
        refused = self._admit()
        if refused is not None:
            problem, wait = refused
            self.refusals.append(problem)
            call.status = 429
            _send(
                handler,
                429,
                {"Title": "Too Many Requests"},
                {"Retry-After": str(wait), "X-Rate-Limit-Problem": problem, **self._limit_headers()},
            )
            return
        try:
            self._api_admitted(handler, method, path, query, headers, lowered, raw, call)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._idle.notify_all()

    def _api_admitted(
        self,
        handler: BaseHTTPRequestHandler,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        lowered: dict[str, str],
        raw: bytes,
        call: Call,
    ) -> None:
        route = f"{method} {re.sub(r'/[0-9a-f-]{36}', '/{id}', path)}"
        fault = self._take_fault(route)
        if fault is not None and not fault.hang_after:
            call.status = fault.status
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            _send(handler, fault.status, {"Title": "Service Unavailable", "Status": fault.status}, extra)
            return
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else None
        except ValueError:
            call.status = 400
            _send(
                handler, 400, {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": "bad JSON"}
            )
            return
        call.body = body
        problems = check_request(method, path, query, headers, body)
        if problems:
            with self._lock:
                self.violations.extend(f"{method} {path}: {p}" for p in problems)
            call.status = 400
            _send(
                handler,
                400,
                {"ErrorNumber": 14, "Type": "PostDataInvalidException", "Message": "; ".join(problems)},
            )
            return
        key = lowered.get("idempotency-key")
        if key is not None and method in ("POST", "PUT"):
            with self._lock:
                stored = self._idempotent.get(key)
            if stored is not None:
                if fault is not None and fault.hang_after:
                    self._held.wait(self.hold_seconds)
                call.status = stored[0]
                _send_raw(handler, stored[0], stored[1], self._limit_headers())
                return
        with self._lock:  # one writer at a time, as one organisation's ledger
            status, answer = self._dispatch(method, path, query, lowered, body)
            encoded = _encode(answer)
            if key is not None and method in ("POST", "PUT") and status == 200:
                self._idempotent[key] = (status, encoded)
        if fault is not None and fault.hang_after:
            self._held.wait(self.hold_seconds)
        call.status = status
        _send_raw(handler, status, encoded, self._limit_headers())

    def _dispatch(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        summarize = query.get("summarizeErrors", "true") != "false"
        if parts == ["Organisation"]:
            return 200, {"Organisations": [self._organisation()]}
        if parts == ["Accounts"]:
            return 200, {
                "Accounts": [
                    {
                        "AccountID": str(uuid.uuid5(uuid.NAMESPACE_OID, code)),
                        "Code": code,
                        "Name": name,
                        "Type": kind,
                        "Status": "ACTIVE",
                    }
                    for code, name, kind in ACCOUNTS
                ]
            }
        if parts == ["TaxRates"]:
            return 200, {
                "TaxRates": [
                    {
                        "Name": name,
                        "TaxType": tax_type,
                        "Status": "ACTIVE",
                        "EffectiveRate": rate,
                        "DisplayTaxRate": rate,
                        "CanApplyToRevenue": tax_type in ("OUTPUT", "EXEMPTOUTPUT", "BASEXCLUDED"),
                    }
                    for tax_type, (name, rate) in TAX_RATES.items()
                ]
            }
        if parts[0] == "Contacts":
            if method == "GET":
                return self._list_contacts(query, headers)
            return self._save_all("Contacts", body["Contacts"], self._save_contact, summarize)
        if parts[0] in ("Invoices", "CreditNotes"):
            kind = "invoice" if parts[0] == "Invoices" else "credit_note"
            if method == "GET" and len(parts) == 1:
                return self._list_docs(kind, query, headers)
            if method == "GET":
                doc = self.docs.get(parts[1])
                if doc is None:
                    return 404, {"Title": "Not Found"}
                return 200, {parts[0]: [self._render(doc)]}
            if len(parts) == 3 and parts[2] == "Allocations":
                return self._allocate(parts[1], body["Allocations"], summarize)
            items = body[parts[0]]
            if len(parts) == 2:
                for item in items:
                    item.setdefault("InvoiceID" if kind == "invoice" else "CreditNoteID", parts[1])
            return self._save_all(parts[0], items, lambda item: self._save_doc(kind, item), summarize)
        return 404, {"Title": "Not Found"}

    def _organisation(self) -> dict[str, Any]:
        return {
            "OrganisationID": self.tenant_id,
            "Name": self.org_name,
            "BaseCurrency": "AUD",
            "CountryCode": "AU",
            "OrganisationStatus": "ACTIVE",
            "DefaultSalesTax": "Tax Exclusive",
            "ShortCode": "!fake1",
        }

    def _save_all(
        self,
        name: str,
        items: list[dict[str, Any]],
        save: Callable[[dict[str, Any]], tuple[list[str], Any]],
        summarize: bool,
    ) -> tuple[int, Any]:
        """Xero's batch semantics: all-or-nothing by default; each item on its own with summarizeErrors=false."""
        results = []
        snapshot = (dict(self.contacts), dict(self.docs))
        for item in items:
            errors, saved = save(item)
            if errors:
                results.append(
                    {
                        **_without_internal(item),
                        "HasErrors": True,
                        "ValidationErrors": [{"Message": m} for m in errors],
                    }
                )
            else:
                results.append(saved)
        if summarize and any(r.get("HasErrors") for r in results):
            self.contacts, self.docs = snapshot
            elements = [r for r in results if r.get("HasErrors")]
            return 400, {
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": elements,
            }
        return 200, {"Id": str(uuid.uuid4()), "Status": "OK", name: results}

    # Contacts

    def _save_contact(self, item: dict[str, Any]) -> tuple[list[str], Any]:
        contact_id = item.get("ContactID")
        if contact_id and contact_id not in self.contacts:
            return ["Contact not found"], None
        name = (item.get("Name") or "").strip()
        if not contact_id and not name:
            return ["The contact name must be specified."], None
        if name:
            taken = [
                c
                for c in self.contacts.values()
                if c["Name"].casefold() == name.casefold()
                and c["ContactStatus"] == "ACTIVE"
                and c["ContactID"] != contact_id
            ]
            if taken:
                return [
                    f"The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."
                ], None
        contact_id = contact_id or str(uuid.uuid4())
        stored = self.contacts.setdefault(contact_id, {"ContactID": contact_id, "ContactStatus": "ACTIVE"})
        stored.update({k: v for k, v in item.items() if k != "ContactID"})
        stored["UpdatedDateUTC"] = self.clock.now()
        return [], self._render_contact(stored)

    def _render_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in contact.items() if v is not None}
        out["UpdatedDateUTC"] = msdate(contact["UpdatedDateUTC"])
        out.setdefault("IsCustomer", True)
        return out

    def _list_contacts(self, query: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        rows = list(self.contacts.values())
        if query.get("includeArchived") != "true":
            rows = [c for c in rows if c["ContactStatus"] == "ACTIVE"]
        where = query.get("where")
        if where:
            match = re.fullmatch(r'\s*(Name|ContactNumber|EmailAddress)\s*==\s*"(.*)"\s*', where)
            if not match:
                return 400, {
                    "ErrorNumber": 16,
                    "Type": "QueryParseException",
                    "Message": f"cannot parse {where!r}",
                }
            field_name, value = match.groups()
            rows = [c for c in rows if (c.get(field_name) or "") == value]
        if query.get("searchTerm"):
            term = query["searchTerm"].casefold()
            rows = [c for c in rows if term in (c.get("Name") or "").casefold()]
        rows = _modified_since(rows, headers, lambda c: c["UpdatedDateUTC"])
        _page_no, items, pagination = _page(rows, query)
        return 200, {"pagination": pagination, "Contacts": [self._render_contact(c) for c in items]}

    # Invoices and credit notes

    def _save_doc(self, kind: str, item: dict[str, Any]) -> tuple[list[str], Any]:
        id_field = "InvoiceID" if kind == "invoice" else "CreditNoteID"
        number_field = "InvoiceNumber" if kind == "invoice" else "CreditNoteNumber"
        existing = self.docs.get(item.get(id_field, "")) if item.get(id_field) else None
        if item.get(id_field) and existing is None:
            return [f"{'Invoice' if kind == 'invoice' else 'Credit note'} not found"], None
        if existing is not None:
            return self._update_doc(existing, item)
        errors = []
        wanted = {"invoice": ("ACCREC", "ACCPAY"), "credit_note": ("ACCRECCREDIT", "ACCPAYCREDIT")}[kind]
        if item.get("Type") not in wanted:
            errors.append(f"Type must be one of {', '.join(wanted)}")
        contact = (item.get("Contact") or {}).get("ContactID")
        if contact not in self.contacts:
            errors.append("A Contact must be specified for this type of transaction")
        status = item.get("Status", "DRAFT")
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            errors.append(f"Status {status} is not valid for a new document")
        if kind == "invoice" and status == "AUTHORISED" and not item.get("DueDate"):
            errors.append("Due Date is required.")
        number = item.get(number_field)
        if number and any(
            d.number == number and d.status not in ("DELETED", "VOIDED") for d in self.invoices(kind)
        ):
            errors.append(f"{'Invoice' if kind == 'invoice' else 'Credit Note'} # must be unique.")
        if item.get("LineAmountTypes", "Exclusive") != "Exclusive":
            errors.append("only Exclusive is modelled by the fake")
        lines = []
        for line in item.get("LineItems") or []:
            line_errors, computed = self._line(line, status)
            errors.extend(line_errors)
            lines.append(computed)
        if not lines:
            errors.append("At least one line item is required")
        if errors:
            return errors, None
        doc_id = str(uuid.uuid4())
        data = {k: v for k, v in item.items() if k != "LineItems"}
        data["Status"] = status
        doc = Doc(kind=kind, id=doc_id, data=data, lines=lines, updated=self.clock.now())
        self.docs[doc_id] = doc
        return [], self._render(doc)

    def _line(self, line: dict[str, Any], status: str) -> tuple[list[str], dict[str, Any]]:
        errors = []
        qty = Decimal(line.get("Quantity", 1))
        unit = Decimal(line.get("UnitAmount", 0))
        expected = money(qty * unit)
        if "LineAmount" in line and money(Decimal(line["LineAmount"])) != expected:
            errors.append(
                f"The line total {Decimal(line['LineAmount'])} does not match the expected line total {expected}"
            )
        code = line.get("AccountCode")
        if code is not None and code not in {c for c, _, _ in ACCOUNTS}:
            errors.append(f"Account code '{code}' is not a valid code for this document.")
        if code is None and status == "AUTHORISED":
            errors.append("Account code is required for an approved document.")
        tax_type = line.get("TaxType", "OUTPUT")
        if tax_type not in TAX_RATES:
            errors.append(
                f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
            )
            rate = Decimal(0)
        else:
            rate = TAX_RATES[tax_type][1] / 100
        own_tax = money(expected * rate)
        tax = own_tax
        if "TaxAmount" in line:
            tax = Decimal(line["TaxAmount"])
            if abs(tax - own_tax) > CENT:
                errors.append(
                    f"TaxAmount {tax} is more than a cent from the line's tax {own_tax} (fake's check)"
                )
        computed = {
            "LineItemID": str(uuid.uuid4()),
            "Description": line.get("Description", ""),
            "Quantity": qty,
            "UnitAmount": unit,
            "AccountCode": code,
            "TaxType": tax_type,
            "TaxAmount": tax,
            "LineAmount": expected,
        }
        return errors, computed

    def _update_doc(self, doc: Doc, item: dict[str, Any]) -> tuple[list[str], Any]:
        wanted = item.get("Status")
        if wanted in ("VOIDED", "DELETED"):
            if doc.payments or doc.credited or doc.allocations:
                return [
                    "This document cannot be edited as it has a payment or credit note allocated to it."
                ], None
            if wanted == "VOIDED" and doc.status not in ("AUTHORISED", "VOIDED"):
                return ["Invoice not of valid status for modification"], None
            if wanted == "DELETED" and doc.status not in ("DRAFT", "SUBMITTED", "DELETED"):
                return ["Invoice not of valid status for modification"], None
            doc.data["Status"] = wanted
        elif wanted == "AUTHORISED" and doc.status in ("DRAFT", "SUBMITTED"):
            doc.data["Status"] = wanted
        elif set(item) - {"InvoiceID", "CreditNoteID", "Status"}:
            return ["the fake only models status changes on an existing document"], None
        doc.updated = self.clock.now()
        return [], self._render(doc)

    def _allocate(
        self, credit_id: str, allocations: list[dict[str, Any]], summarize: bool
    ) -> tuple[int, Any]:
        credit = self.docs.get(credit_id)
        if credit is None or credit.kind != "credit_note":
            return 404, {"Title": "Not Found"}
        results = []
        for allocation in allocations:
            invoice = self.docs.get(allocation["Invoice"].get("InvoiceID", ""))
            amount = Decimal(allocation["Amount"])
            errors = []
            if credit.status != "AUTHORISED":
                errors.append("Credit note must be AUTHORISED to be allocated")
            if invoice is None or invoice.kind != "invoice" or invoice.status != "AUTHORISED":
                errors.append("Invoice must be AUTHORISED to be allocated to")
            elif invoice.data["Contact"]["ContactID"] != credit.data["Contact"]["ContactID"]:
                errors.append("The credit note and invoice must be for the same contact")
            elif amount > invoice.amount_due or amount > credit.amount_due:
                errors.append("Allocation amount exceeds the amount due")
            if errors:
                results.append({**allocation, "ValidationErrors": [{"Message": m} for m in errors]})
                continue
            assert invoice is not None
            invoice.credited += amount
            credit.credited += amount
            credit.allocations.append({"Invoice": invoice.id, "Amount": amount})
            invoice.allocations.append({"CreditNote": credit.id, "Amount": amount})
            self._settle(invoice, date.fromisoformat(allocation["Date"][:10]))
            credit.updated = self.clock.now()
            results.append(
                {
                    "AllocationID": str(uuid.uuid4()),
                    "Amount": amount,
                    "Date": msdate(date.fromisoformat(allocation["Date"][:10])),
                    "Invoice": {"InvoiceID": invoice.id, "InvoiceNumber": invoice.number},
                }
            )
        if summarize and any("ValidationErrors" in r for r in results):
            return 400, {
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": results,
            }
        return 200, {"Allocations": results}

    def _render(self, doc: Doc) -> dict[str, Any]:
        data = dict(doc.data)
        for key in ("Date", "DueDate"):
            if data.get(key):
                day = date.fromisoformat(str(data[key])[:10])
                data[key] = msdate(day)
                data[key + "String"] = f"{day.isoformat()}T00:00:00"
        if isinstance(data.get("FullyPaidOnDate"), date):
            data["FullyPaidOnDate"] = msdate(data["FullyPaidOnDate"])
        id_field = "InvoiceID" if doc.kind == "invoice" else "CreditNoteID"
        data.update(
            {
                id_field: doc.id,
                "LineItems": doc.lines,
                "SubTotal": doc.subtotal,
                "TotalTax": doc.total_tax,
                "Total": doc.total,
                "AmountDue": doc.amount_due,
                "AmountPaid": doc.paid,
                "AmountCredited": doc.credited,
                "UpdatedDateUTC": msdate(doc.updated),
                "Payments": [
                    {"PaymentID": p["PaymentID"], "Amount": p["Amount"], "Date": msdate(p["Date"])}
                    for p in doc.payments
                ],
                "HasErrors": False,
            }
        )
        data.setdefault("LineAmountTypes", "Exclusive")
        if doc.kind == "credit_note":
            data["RemainingCredit"] = doc.amount_due
        return data

    def _list_docs(self, kind: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        rows = sorted(self.invoices(kind), key=lambda d: d.updated)
        if query.get("Statuses"):
            wanted = set(query["Statuses"].split(","))
            rows = [d for d in rows if d.status in wanted]
        if query.get("InvoiceNumbers"):
            numbers = set(query["InvoiceNumbers"].split(","))
            rows = [d for d in rows if d.number in numbers]
        if query.get("IDs"):
            ids = set(query["IDs"].split(","))
            rows = [d for d in rows if d.id in ids]
        rows = _modified_since(rows, headers, lambda d: d.updated)
        _page_no, items, pagination = _page(rows, query)
        name = "Invoices" if kind == "invoice" else "CreditNotes"
        return 200, {"pagination": pagination, name: [self._render(d) for d in items]}


def _without_internal(item: dict[str, Any]) -> dict[str, Any]:
    return dict(item)


def _modified_since(rows: list[Any], headers: dict[str, str], stamp: Callable[[Any], datetime]) -> list[Any]:
    since = headers.get("if-modified-since")
    if not since:
        return rows
    moment = datetime.fromisoformat(since)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return [row for row in rows if stamp(row) > moment]


def _page(rows: list[Any], query: dict[str, str]) -> tuple[int, list[Any], dict[str, int]]:
    size = min(1000, int(query.get("pageSize") or 100))
    if "page" not in query:
        return 1, rows, {"page": 1, "pageSize": len(rows), "pageCount": 1, "itemCount": len(rows)}
    page = max(1, int(query["page"]))
    items = rows[(page - 1) * size : page * size]
    return (
        page,
        items,
        {
            "page": page,
            "pageSize": size,
            "pageCount": max(1, math.ceil(len(rows) / size)),
            "itemCount": len(rows),
        },
    )


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return msdate(value)
    raise TypeError(type(value).__name__)


def _encode(body: Any) -> bytes:
    return json.dumps(body, default=_default).encode()


def _send(
    handler: BaseHTTPRequestHandler, status: int, body: Any, extra: dict[str, str] | None = None
) -> None:
    _send_raw(handler, status, _encode(body), extra or {})


def _send_raw(handler: BaseHTTPRequestHandler, status: int, payload: bytes, extra: dict[str, str]) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout we caused on purpose)
