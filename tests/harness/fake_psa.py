"""Fake Autotask, ConnectWise and HaloPSA servers: real HTTP on 127.0.0.1, shaped like the vendors.

Each fake's docstring names the vendor document its shapes come from and marks what that document
does not settle as *unconfirmed*; `tests/integrations/samples/` holds a documented response per
vendor, and `tests/integrations/test_samples.py` checks the Halo fake against Halo's published
schemas, so the fakes cannot drift into field names the vendors do not send.

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
from pathlib import Path
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
    # "Customer", "Vendor", "Lead", "Prospect", ... (each fake renders it in its vendor's terms)
    kind: str = "Customer"
    email: str | None = None
    status: str | None = None  # a ConnectWise status name other than "Active"/"Inactive"

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


AUTOTASK_COMPANY_TYPES = {
    "Customer": 1,
    "Lead": 2,
    "Prospect": 3,
    "Dead": 4,
    "Cancellation": 6,
    "Vendor": 7,
    "Partner": 8,
}


class FakeAutotask(FakePsaServer):
    """ATServicesRest V1.0 as documented on autotask.net/help/developerhelp ("Companies" entity,
    "Making basic query calls", "The entityInformation REST API call", "Understanding picklists",
    "Zone information", "Threshold information"): zones, 3 auth headers, POST queries with POSTed
    `nextPageUrl`s, 500-item pages, `Companies/entityInformation/fields` with the `companyType`
    picklist (`picklistValues[{value, label, isActive, ...}]`).

    *Unconfirmed*: the picklist's numbers (Autotask says picklist values vary between instances;
    the fake uses the commonly reported ones in `AUTOTASK_COMPANY_TYPES`, and the client resolves
    names through the picklist, so it does not depend on them) and the `{"fields": [...]}` wrapper
    of entityInformation/fields. `move_zone` makes the old API path answer 401, as a database that
    moved zones would; `next_host` puts `nextPageUrl`s on another host.
    """

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
        self.api_path = "/atservicesrest/"
        self.next_host: str | None = None

    @property
    def zone_url(self) -> str:
        """Where zone discovery is asked (`webservices.autotask.net/atservicesrest/` in real life)."""
        return self.base_url + "/atservicesrest/"

    @property
    def api_url(self) -> str:
        """The zone's API host, as zoneInformation answers it."""
        return self.base_url + self.api_path

    def move_zone(self, api_path: str) -> None:
        with self._cond:
            self.api_path = api_path

    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        if path.lower() == "/atservicesrest/v1.0/zoneinformation":
            return "zone", self._zone
        if not path.lower().startswith(self.api_path.lower()):
            return "old_zone", lambda _r: (401, b"", {})
        rest = path.lower().removeprefix(self.api_path.lower())
        routes: dict[str, tuple[str, Callable[[Request], Response]]] = {
            "v1.0/companies/query": ("companies_query", self._query_companies),
            "v1.0/companies/query/next": ("companies_next", self._next),
            "v1.0/countries/query": ("countries_query", self._query_countries),
            "v1.0/countries/query/next": ("countries_next", self._next),
            "v1.0/thresholdinformation": ("threshold", self._threshold),
            "v1.0/companies/entityinformation/fields": ("company_fields", self._company_fields),
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
            {"zoneName": "Fake Zone 5", "url": self.api_url, "webUrl": self.base_url + "/", "ci": 5},
            {},
        )

    def _company_fields(self, _request: Request) -> Response:
        picklist = [
            {
                "value": str(value),
                "label": label,
                "isDefaultValue": label == "Customer",
                "sortOrder": i,
                "parentValue": "",
                "isActive": True,
                "isSystem": True,
            }
            for i, (label, value) in enumerate(AUTOTASK_COMPANY_TYPES.items())
        ]
        fields = [
            {"name": "id", "dataType": "long", "isPickList": False, "picklistValues": None},
            {"name": "companyName", "dataType": "string", "isPickList": False, "picklistValues": None},
            {"name": "companyType", "dataType": "integer", "isPickList": True, "picklistValues": picklist},
        ]
        return 200, {"fields": fields}, {}

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
            "companyType": AUTOTASK_COMPANY_TYPES[c.kind],
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
        base = self.api_url
        if self.next_host:
            base = base.replace("127.0.0.1", self.next_host)
        next_url = f"{base}V1.0/{entity}/query/next?paging={token}" if more else None
        prev_url = f"{base}V1.0/{entity}/query/prev" if offset else None
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


CW_TYPES = {
    "Customer": {"id": 1, "name": "Client"},
    "Vendor": {"id": 5, "name": "Vendor"},
    "Lead": {"id": 3, "name": "Prospect"},
    "Prospect": {"id": 3, "name": "Prospect"},
    "Partner": {"id": 4, "name": "Partner"},
    "Dead": {"id": 6, "name": "Former Client"},
}


class FakeConnectWise(FakePsaServer):
    """ConnectWise PSA REST 3.0, shaped by ConnectWise's published OpenAPI document
    (developer.connectwise.com; read through its generated model docs, e.g. Jetbuilt/connect_wise
    `docs/Company.md`, `CompanyStatus.md`, `CompanyTypeReference.md`): Basic auth + clientId,
    pageSize 25 by default (max 1000), `Link` paging and forward-only paging (`pageId`);
    `company/companies` rows with `status {id, name}`, `types [{id, name}]`, `deletedFlag`;
    `company/companies/statuses` with `inactiveFlag` ("Active", the inactive status, "Credit Hold",
    "Former Client"; only the inactive one is flagged).

    *Unconfirmed*: the type names (ConnectWise ships "Client", "Prospect", "Vendor", "Partner";
    each MSP can rename them) and that the MSP's own company is the one whose `identifier` is the
    login company id (the fake lists one, `own`).
    """

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
        self.status_access = True
        self.own = FakeCompany(id=1_000_000, name="Acme MSP (our own company)")
        self.statuses = [
            {"id": 1, "name": "Active", "defaultFlag": True, "inactiveFlag": False},
            {"id": 2, "name": inactive_status, "defaultFlag": False, "inactiveFlag": True},
            {"id": 3, "name": "Credit Hold", "defaultFlag": False, "inactiveFlag": False},
            {"id": 4, "name": "Former Client", "defaultFlag": False, "inactiveFlag": False},
        ]

    def route(
        self, method: str, path: str, query: dict[str, str]
    ) -> tuple[str, Callable[[Request], Response]]:
        rest = path.removeprefix(CW_PREFIX)
        if rest == "company/companies":
            return "companies", self._authed(self._list)
        if rest == "company/companies/statuses":
            return "statuses", self._authed(self._statuses)
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

    def _statuses(self, request: Request) -> Response:
        if not self.status_access:
            return 403, {"code": "Forbidden", "message": "No access to company statuses", "errors": []}, {}
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        rows = [{k: v for k, v in r.items() if not fields or k in fields} for r in self.statuses]
        return 200, rows, {}

    def render(self, c: FakeCompany) -> dict[str, Any]:
        if c.status:
            status = next(
                ({"id": r["id"], "name": r["name"]} for r in self.statuses if r["name"] == c.status),
                {"id": 99, "name": c.status},
            )
        else:
            status = {"id": 1, "name": "Active"} if c.active else {"id": 2, "name": self.inactive_status}
        return {
            "id": c.id,
            "identifier": self.company_id if c is self.own else f"Co{c.id}",
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
            "types": [CW_TYPES[c.kind]],
            "leadFlag": c.kind == "Lead",
            "isVendorFlag": c.kind == "Vendor",
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
        book = sorted([*self.companies, self.own], key=lambda c: c.id)
        rows = [r for r in (self.render(c) for c in book) if keep(r)]
        forward = request.headers.get("pagination-type", "").lower() == "forward-only"
        if forward and q.get("orderBy"):
            # *unconfirmed* that the real server refuses it; forward-only is keyed by id regardless
            return 400, {"code": "InvalidObject", "message": "orderBy is not supported with forward-only"}, {}
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
        found = next((c for c in [*self.companies, self.own] if c.id == wanted), None)
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
HALO_SPEC = Path(__file__).resolve().parents[1] / "integrations" / "samples" / "halopsa_openapi_subset.json"
HALO_PARAMETERS: dict[str, set[str]] = {
    path: {p["name"] for p in operation["get"].get("parameters", [])}
    for path, operation in json.loads(HALO_SPEC.read_text(encoding="utf-8"))["paths"].items()
}


class FakeHaloPSA(FakePsaServer):
    """HaloPSA, shaped by Halo's published OpenAPI document ("Halo API" v2, halopsa-rest
    `generator/spec/swagger.json`; the schemas used are copied to
    `tests/integrations/samples/halopsa_openapi_subset.json`, MIT licence beside it).

    - Query parameters are checked against the document's parameters of `GET /Client`,
      `/Client/{id}` and `/Site`: an undocumented one is a 400 (Halo would silently ignore it).
    - `POST /auth/token` client credentials; `GET /api/Client` (`Area` rows: `id`, `name`,
      `inactive`, `toplevel_id`, `main_site_id`, `main_site_name`, `accountsemailaddress`) capped at
      `page_cap` rows a page; `GET /api/Client/{id}`;
    - `GET /api/Site` (`Site_List` rows: `id`, `name`, `client_id` as a float, `phonenumber`,
      `delivery_address_line1..5`, `region_code_name`, `country_code_name`), by `client_id` or paged.
      A client's first-listed site is a "Warehouse" for every 4th client, so only `main_site_id`
      finds the main site.
    - Sites carry their address only with `includeaddress=true` (the spec's parameter: "Include
      site address in the response"); the fake leaves it out otherwise, so a client that forgets
      the flag imports no address.
    - *Unconfirmed* (the spec types no responses): that list rows carry `main_site_id`
      (`list_main_site_id=False` drops it), and how people lay out the free-form lines (the fake
      alternates the two common layouts: street / suburb / "STATE POSTCODE" for odd ids, and
      street / suburb / state / postcode for even ids).
    """

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
        list_main_site_id: bool = True,
        auth_path: str = "/auth",  # where the authorisation server lives (hosted tenants: elsewhere)
    ) -> None:
        super().__init__()
        self.companies = companies or []
        self.auth_path = auth_path
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.page_cap, self.expires_in = page_cap, expires_in
        self.float_client_ids, self.bulk_sites = float_client_ids, bulk_sites
        self.list_main_site_id = list_main_site_id
        self.tokens: set[str] = set()
        self._ids = itertools.count(1)
        self.address_lines: dict[int, list[str | None]] = {}  # per client id: the main site's lines

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
        documented = "/Client/{id}" if re.fullmatch(r"/api/Client/\d+", path) else path.removeprefix("/api")
        unknown = set(query) - HALO_PARAMETERS.get(documented, set(query))
        if unknown:  # the published document names every parameter: a typo would be ignored by Halo
            return "undocumented", lambda _r: (
                400,
                {"error": f"undocumented parameters {sorted(unknown)}"},
                {},
            )
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

    def render(self, c: FakeCompany, *, listed: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "inactive": not c.active,
            "toplevel_id": 1,
            "colour": "#000000",
            "main_site_id": c.id * 10,
            "main_site_name": "Main",
            "accountsemailaddress": c.email or "",
        }
        if listed and not self.list_main_site_id:
            del row["main_site_id"], row["main_site_name"]
        return row

    def lines_of(self, c: FakeCompany) -> list[str | None]:
        if c.id in self.address_lines:
            return self.address_lines[c.id]
        tail = [f"{c.state} {c.postcode}"] if c.id % 2 else [c.state, c.postcode]
        lines = [x for x in (c.address1, c.address2, c.city, *tail) if x and x.strip()]
        return lines[:5]

    def sites_of(self, c: FakeCompany, *, address: bool) -> list[dict[str, Any]]:
        client_id: Any = float(c.id) if self.float_client_ids else c.id
        lines = self.lines_of(c)
        main: dict[str, Any] = {
            "id": c.id * 10,
            "name": "Main",
            "client_id": client_id,
            "client_name": c.name,
            "inactive": False,
            "phonenumber": c.phone,
        }
        if address:
            main |= {f"delivery_address_line{i + 1}": (lines[i] if i < len(lines) else "") for i in range(5)}
            main |= {"region_code_name": None, "country_code_name": c.country}
        sites = [main]
        if c.id % 4 == 0:  # a second, non-main site listed first: must not win
            other = {**main, "id": c.id * 10 + 1, "name": "Warehouse", "phonenumber": "000"}
            if address:
                other |= {"delivery_address_line1": "1 Warehouse Rd", "delivery_address_line2": "Botany"}
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
        page, total = self._page([self.render(c, listed=True) for c in rows], q)
        return 200, {"record_count": total, "clients": page}, {}

    def _client(self, request: Request) -> Response:
        wanted = int(request.path.rsplit("/", 1)[1])
        found = next((c for c in self.companies if c.id == wanted), None)
        return (200, self.render(found), {}) if found else (404, {"error": "not found"}, {})

    def _sites(self, request: Request) -> Response:
        q = request.query
        address = q.get("includeaddress", "").lower() == "true"
        if "client_id" in q:
            found = next((c for c in self.companies if c.id == int(float(q["client_id"]))), None)
            return 200, self.sites_of(found, address=address) if found else [], {}
        if not self.bulk_sites:
            return 400, {"error": "client_id is required"}, {}
        rows = [
            s for c in sorted(self.companies, key=lambda c: c.id) for s in self.sites_of(c, address=address)
        ]
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
