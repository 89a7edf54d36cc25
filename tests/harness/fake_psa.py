"""Fake Autotask, ConnectWise and HaloPSA servers: real HTTP on 127.0.0.1, shaped like the vendors.

Each fake holds a list of `FakeCompany` (see `make_companies`), records every request, and injects
the failures the real services produce: 429 + Retry-After, 503, malformed JSON, credential errors,
and responses held past the client's timeout. Holding is event-based: a held response waits on an
Event that `stop()` (or `release()`) sets, so no test ever sleeps.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

from integrations.autotask import AutotaskClient
from integrations.connectwise import ConnectWiseClient
from integrations.halopsa import HaloPsaClient

COUNTRIES = {14: "Australia", 158: "New Zealand", 225: "United Kingdom", 1: "United States"}


@dataclass
class FakeCompany:
    """A vendor-neutral company; each fake renders it in its own JSON shape."""

    id: int
    name: str
    active: bool = True
    phone: str | None = None
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country_id: int | None = None

    @property
    def country(self) -> str | None:
        return COUNTRIES.get(self.country_id) if self.country_id is not None else None


def make_companies(n: int, *, inactive_every: int = 10, start_id: int = 1) -> list[FakeCompany]:
    """`n` companies with ids from `start_id`; every `inactive_every`-th one is inactive."""
    out = []
    for i in range(start_id, start_id + n):
        out.append(
            FakeCompany(
                id=i,
                name=f"Company {i:06d} Pty Ltd",
                active=not (inactive_every and i % inactive_every == 0),
                phone=f"+61 2 9{i:07d}"[:16],
                address1=f"{i} Example Street",
                address2=f"Level {i % 30}" if i % 3 == 0 else None,
                city="Sydney" if i % 2 else "Melbourne",
                state="NSW" if i % 2 else "VIC",
                postcode=f"{2000 + i % 1000}",
                country_id=14 if i % 5 else 158,
            )
        )
    return out


def active_count(companies: list[FakeCompany]) -> int:
    return sum(1 for c in companies if c.active)


@dataclass
class Request:
    route: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    """What to answer instead of the real response; `hold` keeps the connection silent (a timeout)."""

    status: int = 503
    body: str | None = None
    retry_after: str | None = None
    hold: bool = False
    content_type: str = "application/json"


Response = tuple[int, Any, dict[str, str]]


class RecordingSleep:
    """Stands in for `time.sleep`: remembers each requested wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakePsaServer:
    """The HTTP machinery shared by the three fakes: routing, recording, faults, holds, concurrency."""

    hold_limit = 10.0  # a held response never outlives a stuck test for long

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._faults: dict[str, list[Fault]] = {}
        self._cond = threading.Condition()
        self._released = threading.Event()
        self.gate: threading.Event | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakePsaServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: avoid 40 ms stalls

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self.release()
        if self.gate:
            self.gate.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls ---------------------------------------------------------------------
    def fail_next(self, route: str, *, times: int = 1, **fault: Any) -> None:
        """Answer the next `times` requests to `route` (or "*" for any) with a fault."""
        with self._cond:
            self._faults.setdefault(route, []).extend(Fault(**fault) for _ in range(times))

    def release(self) -> None:
        """Let held (timed-out) responses finish."""
        self._released.set()

    def requests_to(self, route: str) -> list[Request]:
        with self._cond:
            return [r for r in self.requests if r.route == route]

    def wait_in_flight(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.in_flight >= count, timeout=timeout)

    # -- HTTP ------------------------------------------------------------------------------
    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        raise NotImplementedError

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        url = urlparse(handler.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        route, fn = self.route(method, url.path, query)
        request = Request(
            route, method, url.path, query, {k.lower(): v for k, v in handler.headers.items()}, body
        )
        with self._cond:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            queue = self._faults.get(route) or self._faults.get("*")
            fault = queue.pop(0) if queue else None
            self._cond.notify_all()
        try:
            if self.gate is not None:
                self.gate.wait(self.hold_limit)
            if fault is not None:
                if fault.hold:
                    self._released.wait(self.hold_limit)
                    return self._send(handler, 504, b"", "text/plain", {})
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                data = (
                    fault.body if fault.body is not None else json.dumps({"errors": ["injected"]})
                ).encode()
                return self._send(handler, fault.status, data, fault.content_type, headers)
            status, payload, headers = fn(request)
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            return self._send(handler, status, data, "application/json; charset=utf-8", headers)
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str, headers: dict[str, str]
    ) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): nothing to tell it


def not_found(_request: Request) -> Response:
    return 404, {"errors": ["not found"]}, {}


# ============================================================================================
# Autotask
# ============================================================================================
def _at_match(item: dict[str, Any], flt: dict[str, Any]) -> bool:
    op = str(flt.get("op", "")).lower()
    if op in ("and", "or"):
        results = [_at_match(item, sub) for sub in flt.get("items", [])]
        return all(results) if op == "and" else any(results)
    value, target = item.get(flt.get("field", "")), flt.get("value")
    if isinstance(value, str) and isinstance(target, str):
        value, target = value.casefold(), target.casefold()
    if op == "eq":
        return value == target
    if op == "noteq":
        return value != target
    if op == "exist":
        return value is not None
    if op == "notexist":
        return value is None
    if op in ("gt", "gte", "lt", "lte"):
        if value is None:
            return False
        return {"gt": value > target, "gte": value >= target, "lt": value < target, "lte": value <= target}[
            op
        ]
    if op == "contains":
        return value is not None and str(target) in str(value)
    if op == "beginswith":
        return value is not None and str(value).startswith(str(target))
    if op == "endswith":
        return value is not None and str(value).endswith(str(target))
    if op == "in":
        return value in target
    if op == "notin":
        return value not in target
    raise ValueError(f"unsupported op {op}")


class FakeAutotask(FakePsaServer):
    """ATServicesRest V1.0 as documented: zones, 3 auth headers, POST queries, 500-item pages."""

    def __init__(
        self,
        companies: list[FakeCompany] | None = None,
        *,
        username: str = "api@acme.example",
        secret: str = "s3cret",  # noqa: S107 - a fake server's test credential
        integration_code: str = "INTCODE123",
        threshold: int = 10_000,
        used: int = 0,
    ) -> None:
        super().__init__()
        self.username, self.secret, self.integration_code = username, secret, integration_code
        own = FakeCompany(id=0, name="Acme MSP (our own company)", active=True, country_id=14)
        self.companies = [own, *(companies or [])]
        self.threshold, self.used = threshold, used
        self._results: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    @property
    def zone_url(self) -> str:
        return self.base_url + "/atservicesrest/"

    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        rest = path.lower().removeprefix("/atservicesrest/")
        if rest == "v1.0/zoneinformation":
            return "zone", self._zone
        routes: dict[str, tuple[str, Callable[[Request], Response]]] = {
            "v1.0/companies/query": ("companies_query", self._query_companies),
            "v1.0/companies/query/next": ("companies_next", self._next),
            "v1.0/countries/query": ("countries_query", self._query_countries),
            "v1.0/countries/query/next": ("countries_next", self._next),
            "v1.0/thresholdinformation": ("threshold", self._threshold),
        }
        name, fn = routes.get(rest, ("", not_found))
        if not name and re.fullmatch(r"v1\.0/companies/\d+", rest):
            name, fn = "company_get", self._get_company
        return name or "unknown", self._authed(fn)

    def _authed(self, fn: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapper(request: Request) -> Response:
            h = request.headers
            if h.get("username") != self.username:
                return 500, {"errors": ["Unable to authenticate user. User not found."]}, {}
            if h.get("apiintegrationcode") != self.integration_code:
                return 500, {"errors": ["IntegrationCode is invalid."]}, {}
            if h.get("secret") != self.secret:
                return 401, b"", {}
            with self._cond:
                self.used += 1
            return fn(request)

        return wrapper

    def _zone(self, request: Request) -> Response:
        if request.query.get("user", "").casefold() != self.username.casefold():
            return 500, {"errors": ["Zone information could not be determined"]}, {}
        return (
            200,
            {"zoneName": "Fake Zone 5", "url": self.zone_url, "webUrl": self.base_url + "/", "ci": 5},
            {},
        )

    def _threshold(self, _request: Request) -> Response:
        return (
            200,
            {
                "externalRequestThreshold": self.threshold,
                "requestThresholdTimeframe": 60,
                "currentTimeframeRequestCount": self.used,
            },
            {},
        )

    @staticmethod
    def render(c: FakeCompany) -> dict[str, Any]:
        return {
            "id": c.id,
            "companyName": c.name,
            "companyNumber": f"C{c.id}",
            "companyType": 1,
            "isActive": c.active,
            "phone": c.phone or "",
            "alternatePhone1": "",
            "fax": "",
            "address1": c.address1 or "",
            "address2": c.address2,
            "city": c.city or "",
            "state": c.state or "",
            "postalCode": c.postcode or "",
            "countryID": c.country_id,
            "webAddress": None,
            "parentCompanyID": None,
            "lastTrackedModifiedDateTime": "2026-01-01T00:00:00Z",
            "userDefinedFields": [],
        }

    def _get_company(self, request: Request) -> Response:
        if request.method != "GET":
            return 405, {"errors": ["method not allowed"]}, {}
        wanted = int(request.path.rsplit("/", 1)[1])
        found = next((c for c in self.companies if c.id == wanted), None)
        return 200, {"item": self.render(found) if found else None}, {}

    def _query_companies(self, request: Request) -> Response:
        return self._query(request, "Companies", lambda: [self.render(c) for c in self.companies])

    def _query_countries(self, request: Request) -> Response:
        rows = [
            {"id": k, "name": v, "displayName": v, "countryCode": v[:2].upper(), "isActive": True}
            for k, v in COUNTRIES.items()
        ]
        return self._query(request, "Countries", lambda: rows)

    def _query(self, request: Request, entity: str, rows: Callable[[], list[dict[str, Any]]]) -> Response:
        if request.method == "GET":
            body = json.loads(request.query.get("search") or "{}")
        else:
            body = request.json() or {}
        key = entity + json.dumps(body, sort_keys=True)
        filters = body.get("Filter") or []
        try:
            matched = [r for r in rows() if all(_at_match(r, f) for f in filters)]
        except (ValueError, TypeError) as exc:
            return 500, {"errors": [f"Invalid filter: {exc}"]}, {}
        matched.sort(key=lambda r: r["id"])
        fields = body.get("IncludeFields")
        if fields:
            matched = [{k: r.get(k) for k in {"id", *fields}} for r in matched]
        with self._cond:
            self._results[key] = matched
        return self._page(entity, key, 0, int(body.get("MaxRecords") or 500))

    def _page(self, entity: str, key: str, offset: int, size: int) -> Response:
        size = max(1, min(size, 500))
        rows = self._results[key]
        items = rows[offset : offset + size]
        more = offset + size < len(rows)
        token = base64.urlsafe_b64encode(json.dumps([key, offset + size, size]).encode()).decode()
        next_url = f"{self.zone_url}V1.0/{entity}/query/next?paging={token}" if more else None
        prev_url = f"{self.zone_url}V1.0/{entity}/query/prev" if offset else None
        details = {
            "count": len(items),
            "requestCount": size,
            "prevPageUrl": prev_url,
            "nextPageUrl": next_url,
        }
        return 200, {"items": items, "pageDetails": details}, {}

    def _next(self, request: Request) -> Response:
        if request.method == "GET":
            return 405, {"errors": ["The requested resource does not support http method 'GET'."]}, {}
        key, offset, size = json.loads(base64.urlsafe_b64decode(request.query["paging"]))
        entity = "Companies" if key.startswith("Companies") else "Countries"
        if key != entity + json.dumps(request.json() or {}, sort_keys=True):
            return 500, {"errors": ["The query body of a next page must match the original query."]}, {}
        return self._page(entity, key, offset, size)


# ============================================================================================
# ConnectWise
# ============================================================================================
CW_PREFIX = "/v4_6_release/apis/3.0/"


class FakeConnectWise(FakePsaServer):
    """ConnectWise PSA REST 3.0: Basic auth + clientId, pageSize 25 by default (max 1000), Link paging."""

    def __init__(
        self,
        companies: list[FakeCompany] | None = None,
        *,
        company_id: str = "acme",
        public_key: str = "pubkey",
        private_key: str = "privkey",
        client_id: str = "1b2c3d4e-0000-4000-8000-123456789abc",
        deleted_every: int = 13,
        inactive_status: str = "Inactive",
    ) -> None:
        super().__init__()
        self.companies = companies or []
        self.company_id, self.public_key, self.private_key, self.client_id = (
            company_id,
            public_key,
            private_key,
            client_id,
        )
        self.deleted_every = deleted_every
        self.inactive_status = inactive_status
        self.company_access = True

    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        rest = path.removeprefix(CW_PREFIX)
        if rest == "company/companies":
            return "companies", self._authed(self._list)
        if re.fullmatch(r"company/companies/\d+", rest):
            return "company_get", self._authed(self._get)
        if rest == "system/info":
            return "system_info", self._authed(
                lambda _r: (200, {"version": "v2025.1.12345", "isCloud": True}, {})
            )
        return "unknown", not_found

    def _authed(self, fn: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapper(request: Request) -> Response:
            expected = base64.b64encode(
                f"{self.company_id}+{self.public_key}:{self.private_key}".encode()
            ).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return 401, {"code": "Unauthorized", "message": "Invalid credentials", "errors": None}, {}
            if request.headers.get("clientid") != self.client_id:
                return (
                    400,
                    {"code": "InvalidClientId", "message": "A valid clientId is required.", "errors": []},
                    {},
                )
            if not self.company_access and request.route.startswith("compan"):
                return (
                    403,
                    {
                        "code": "Forbidden",
                        "message": "You do not have access to Company Maintenance.",
                        "errors": [],
                    },
                    {},
                )
            return fn(request)

        return wrapper

    def is_deleted(self, c: FakeCompany) -> bool:
        return bool(self.deleted_every) and c.id % self.deleted_every == 0

    def render(self, c: FakeCompany) -> dict[str, Any]:
        status = {"id": 1, "name": "Active"} if c.active else {"id": 2, "name": self.inactive_status}
        return {
            "id": c.id,
            "identifier": f"Co{c.id}",
            "name": c.name,
            "status": status,
            "addressLine1": c.address1,
            "addressLine2": c.address2,
            "city": c.city,
            "state": c.state,
            "zip": c.postcode,
            "country": {"id": c.country_id, "name": c.country} if c.country_id else None,
            "phoneNumber": c.phone,
            "website": None,
            "deletedFlag": self.is_deleted(c),
            "types": [{"id": 1, "name": "Client"}],
            "_info": {"lastUpdated": "2026-01-01T00:00:00Z"},
        }

    def _condition(self, conditions: str) -> Callable[[dict[str, Any]], bool]:
        terms = [t.strip() for t in re.split(r"\s+and\s+", conditions, flags=re.IGNORECASE) if t.strip()]
        checks: list[Callable[[dict[str, Any]], bool]] = []
        for term in terms:
            if m := re.fullmatch(r'(\w+)\s+like\s+"(.*)"', term, flags=re.IGNORECASE):
                name, pattern = m.group(1), m.group(2).replace('\\"', '"')
                regex = re.compile("^" + ".*".join(map(re.escape, pattern.split("%"))) + "$", re.IGNORECASE)
                checks.append(lambda r, n=name, rx=regex: bool(rx.match(str(r.get(n) or ""))))
            elif m := re.fullmatch(r"(\w+)\s*(!=|=)\s*(.+)", term):
                name, op, raw = m.groups()
                value: Any = {"true": True, "false": False}.get(raw.lower(), raw.strip('"'))
                if isinstance(value, str) and value.isdigit():
                    value = int(value)
                if op == "=":
                    checks.append(lambda r, n=name, v=value: r.get(n) == v)
                else:
                    checks.append(lambda r, n=name, v=value: r.get(n) != v)
            else:
                raise ValueError(term)
        return lambda r: all(check(r) for check in checks)

    def _list(self, request: Request) -> Response:
        q = request.query
        try:
            keep = self._condition(q.get("conditions", ""))
        except ValueError as exc:
            return 400, {"code": "InvalidObject", "message": f"Invalid condition: {exc}", "errors": []}, {}
        size = max(1, min(int(q.get("pageSize") or 25), 1000))
        rows = [r for r in (self.render(c) for c in sorted(self.companies, key=lambda c: c.id)) if keep(r)]
        forward = request.headers.get("pagination-type", "").lower() == "forward-only"
        if forward:
            after = int(q.get("pageId") or 0)
            rows = [r for r in rows if r["id"] > after]
            items, more = rows[:size], len(rows) > size
            nxt = {"pageId": str(items[-1]["id"])} if more and items else None
        else:
            page = max(1, int(q.get("page") or 1))
            items = rows[(page - 1) * size : page * size]
            more = page * size < len(rows)
            nxt = {"page": str(page + 1)} if more else None
        headers = {}
        if nxt:
            params = {k: v for k, v in q.items() if k not in ("page", "pageId")} | nxt
            headers["Link"] = f'<{self.base_url}{CW_PREFIX}company/companies?{urlencode(params)}>; rel="next"'
        return 200, items, headers

    def _get(self, request: Request) -> Response:
        wanted = int(request.path.rsplit("/", 1)[1])
        found = next((c for c in self.companies if c.id == wanted), None)
        if not found:
            return (
                404,
                {"code": "NotFound", "message": f"Company with id {wanted} not found", "errors": None},
                {},
            )
        return 200, self.render(found), {}


# ============================================================================================
# HaloPSA
# ============================================================================================
class FakeHaloPSA(FakePsaServer):
    """HaloPSA: client-credentials tokens, `api/Client` capped at 100 a page, `api/Site` for addresses."""

    def __init__(
        self,
        companies: list[FakeCompany] | None = None,
        *,
        client_id: str = "halo-client",
        client_secret: str = "halo-secret",  # noqa: S107 - a fake server's test credential
        tenant: str | None = None,
        page_cap: int = 100,
        expires_in: int = 3600,
        float_client_ids: bool = True,
        bulk_sites: bool = True,
        auth_path: str = "/auth",  # where the authorisation server lives (hosted tenants: elsewhere)
    ) -> None:
        super().__init__()
        self.companies = companies or []
        self.auth_path = auth_path
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.page_cap, self.expires_in = page_cap, expires_in
        self.float_client_ids, self.bulk_sites = float_client_ids, bulk_sites
        self.tokens: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return self.base_url

    def revoke_tokens(self) -> None:
        with self._cond:
            self.tokens.clear()

    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        if path == f"{self.auth_path}/token" and method == "POST":
            return "token", self._token
        if path == "/api/Client":
            return "clients", self._authed(self._clients)
        if re.fullmatch(r"/api/Client/\d+", path):
            return "client_get", self._authed(self._client)
        if path == "/api/Site":
            return "sites", self._authed(self._sites)
        return "unknown", not_found

    def _token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        ok = (
            form.get("grant_type") == "client_credentials"
            and form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
            and request.query.get("tenant") == self.tenant
        )
        if not ok:
            return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}, {}
        token = f"tok-{next(self._ids)}"
        with self._cond:
            self.tokens.add(token)
        return (
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "scope": form.get("scope", "all"),
            },
            {},
        )

    def _authed(self, fn: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def wrapper(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth.removeprefix("Bearer ") not in self.tokens:
                return 401, b"", {}
            return fn(request)

        return wrapper

    @staticmethod
    def render(c: FakeCompany) -> dict[str, Any]:
        return {"id": c.id, "name": c.name, "inactive": not c.active, "toplevel_id": 1, "colour": "#000000"}

    def sites_of(self, c: FakeCompany) -> list[dict[str, Any]]:
        client_id: Any = float(c.id) if self.float_client_ids else c.id
        main = {
            "id": c.id * 10,
            "name": "Main",
            "client_id": client_id,
            "phonenumber": c.phone,
            "addressline1": c.address1,
            "addressline2": c.address2,
            "city": c.city,
            "county": c.state,
            "postcode": c.postcode,
            "country": c.country,
            "ismainsite": True,
            "inactive": False,
        }
        sites = [main]
        if c.id % 4 == 0:  # a second, non-main site listed first: must not win
            other = {
                **main,
                "id": c.id * 10 + 1,
                "name": "Warehouse",
                "ismainsite": False,
                "phonenumber": "000",
                "addressline1": "1 Warehouse Rd",
            }
            sites.insert(0, other)
        return sites

    def _page(self, rows: list[Any], q: dict[str, str]) -> tuple[list[Any], int]:
        if q.get("pageinate", "").lower() != "true":
            return rows, len(rows)
        size = max(1, min(int(q.get("page_size") or 50), self.page_cap))
        page = max(1, int(q.get("page_no") or 1))
        return rows[(page - 1) * size : page * size], len(rows)

    def _clients(self, request: Request) -> Response:
        q = request.query
        rows = sorted(self.companies, key=lambda c: c.id)
        if q.get("includeinactive", "").lower() != "true":
            rows = [c for c in rows if c.active]
        if q.get("search"):
            rows = [c for c in rows if q["search"].casefold() in c.name.casefold()]
        page, total = self._page([self.render(c) for c in rows], q)
        return 200, {"record_count": total, "clients": page}, {}

    def _client(self, request: Request) -> Response:
        wanted = int(request.path.rsplit("/", 1)[1])
        found = next((c for c in self.companies if c.id == wanted), None)
        return (200, self.render(found), {}) if found else (404, {"error": "not found"}, {})

    def _sites(self, request: Request) -> Response:
        q = request.query
        if "client_id" in q:
            found = next((c for c in self.companies if c.id == int(float(q["client_id"]))), None)
            return 200, self.sites_of(found) if found else [], {}
        if not self.bulk_sites:
            return 400, {"error": "client_id is required"}, {}
        rows = [s for c in sorted(self.companies, key=lambda c: c.id) for s in self.sites_of(c)]
        page, total = self._page(rows, q)
        return 200, {"record_count": total, "sites": page}, {}


# ============================================================================================
# Clients wired to the fakes
# ============================================================================================
def autotask_client(fake: FakeAutotask, **overrides: Any) -> AutotaskClient:
    """An `AutotaskClient` for `fake`, discovering its zone like production, never really sleeping."""
    kwargs: dict[str, Any] = {
        "username": fake.username,
        "secret": fake.secret,
        "integration_code": fake.integration_code,
        "zone_url": fake.zone_url,
        "timeout": 5.0,
        "sleep": RecordingSleep(),
    }
    return AutotaskClient(**(kwargs | overrides))


def connectwise_client(fake: FakeConnectWise, **overrides: Any) -> ConnectWiseClient:
    kwargs: dict[str, Any] = {
        "site": fake.base_url,
        "company_id": fake.company_id,
        "public_key": fake.public_key,
        "private_key": fake.private_key,
        "client_id": fake.client_id,
        "timeout": 5.0,
        "sleep": RecordingSleep(),
    }
    return ConnectWiseClient(**(kwargs | overrides))


def halopsa_client(fake: FakeHaloPSA, **overrides: Any) -> HaloPsaClient:
    kwargs: dict[str, Any] = {
        "url": fake.url,
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "tenant": fake.tenant,
        "timeout": 5.0,
        "sleep": RecordingSleep(),
    }
    return HaloPsaClient(**(kwargs | overrides))
