"""Autotask PSA (ATServicesRest V1.0).

Built from Autotask's REST API documentation (autotask.net/help/developerhelp: "Companies" entity,
"Making basic query calls", "The entityInformation REST API call", "Understanding picklists",
"Zone information", "API thresholds"); Autotask publishes no OpenAPI file we could vendor.

Quirks handled here, all from Autotask's docs and issue trackers:
- the API host depends on the customer's zone: ask `zoneInformation?user=` once (or use a base URL),
  and ask again once after a 401 (a database moved to another zone) before giving up. The credential
  headers go only to the zone's API host: zone discovery goes without them, and a `nextPageUrl` on
  any other host is refused rather than followed;
- only customers by default: `companyType` is a picklist whose values differ between Autotask
  instances, so the wanted types are named (`AUTOTASK_COMPANY_TYPES`, default "Customer") and
  turned into values with `Companies/entityInformation/fields` (`picklistValues[{value, label}]`);
- a bad username or integration code is an HTTP 500, a bad secret a 401, and errors come as
  `{"errors": ["..."]}` (strings);
- after a POST query, `nextPageUrl` must be POSTed with the same body (a GET gets 405);
- 10,000 requests per rolling hour per database, shared with every other integration, and at most 3
  concurrent requests: we keep to 3 with a semaphore and read `ThresholdInformation` every
  `check_every` requests, slowing down as the hour's budget runs out rather than starving the MSP's
  other tools;
- company id 0 is the MSP itself, never an end customer.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from integrations.base import (
    Company,
    HttpClientBase,
    PsaAuthError,
    PsaConfigError,
    PsaError,
    PsaUnavailable,
    clean,
)
from integrations.http import (
    DEFAULT_TIMEOUT,
    Page,
    RetryPolicy,
    Sleep,
    call_with_retry,
    ensure_slash,
    json_body,
    make_http_client,
    paginate,
)

KIND = "autotask"
VENDOR = "Autotask"
DEFAULT_ZONE_URL = "https://webservices.autotask.net/atservicesrest/"
MAX_PAGE = 500
MAX_CONCURRENCY = 3
COMPANY_FIELDS = [
    "id",
    "companyName",
    "companyType",
    "isActive",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "postalCode",
    "countryID",
]
ACTIVE_CUSTOMERS = [
    {"op": "eq", "field": "isActive", "value": True},
    {"op": "gt", "field": "id", "value": 0},
]
# Autotask words its credential failures differently across versions; any of these means "fix settings".
DEFAULT_COMPANY_TYPES = ("Customer",)
ALL_TYPES = "*"
AUTH_WORDS = re.compile(r"user|integration ?code|authenticat|credential|unauthori|impersonat", re.IGNORECASE)


@dataclass(frozen=True)
class ThresholdPolicy:
    """When to look at `ThresholdInformation` and how to slow down near the hourly limit.

    Above `slow_down_at` of the threshold we space requests so the rest of the budget lasts the
    rest of the timeframe (timeframe / remaining requests, capped at `max_delay`); at the limit we
    stop with a clear error, since Autotask would only add latency to every integration.
    """

    check_every: int = 250
    slow_down_at: float = 0.8
    max_delay: float = 60.0


@dataclass(frozen=True)
class ThresholdInfo:
    threshold: int
    timeframe_minutes: int
    used: int

    @property
    def remaining(self) -> int:
        return self.threshold - self.used


class AutotaskClient(HttpClientBase):
    """One Autotask API user; thread-safe (the semaphore keeps us at Autotask's 3 concurrent calls)."""

    kind = KIND

    def __init__(
        self,
        *,
        username: str,
        secret: str,
        integration_code: str,
        base_url: str | None = None,
        zone_url: str = DEFAULT_ZONE_URL,
        impersonation_resource_id: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        threshold: ThresholdPolicy | None = None,
        page_size: int = MAX_PAGE,
        max_concurrency: int = MAX_CONCURRENCY,
        company_types: Sequence[str] = DEFAULT_COMPANY_TYPES,
    ) -> None:
        self.username = username
        headers = {"ApiIntegrationCode": integration_code, "UserName": username, "Secret": secret}
        if impersonation_resource_id:
            headers["ImpersonationResourceId"] = impersonation_resource_id
        # Sent per request, and only to the zone's API host (see `_call`), never as client defaults.
        self._credentials = headers
        self._http = make_http_client(base_url="", timeout=timeout, transport=transport)
        self._zone_url = ensure_slash(zone_url)
        self._base_url = ensure_slash(base_url) if base_url else None
        self._discovered = False
        self._zone_name: str | None = None
        if self._base_url:
            self._http.base_url = httpx.URL(self._base_url)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._threshold = threshold or ThresholdPolicy()
        self._page_size = max(1, min(page_size, MAX_PAGE))
        self._semaphore = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self._since_check = 0
        self._delay = 0.0
        self.last_threshold: ThresholdInfo | None = None
        self._countries: dict[int, str] | None = None
        self._wanted_types = tuple(t.strip() for t in company_types if t.strip()) or DEFAULT_COMPANY_TYPES
        self._type_values: frozenset[int] | None = None
        self._types_resolved = False

    # -- protocol --------------------------------------------------------------------------
    def iter_companies(self) -> Iterator[Company]:
        body = {
            "MaxRecords": self._page_size,
            "IncludeFields": COMPANY_FIELDS,
            "Filter": [{"op": "and", "items": self._wanted_filter()}],
        }
        countries = self._country_names()
        for item in self._query("V1.0/Companies/query", body):
            company = self._to_company(item, countries)
            if company is not None and company.active:
                yield company

    def get_company(self, ref: str) -> Company | None:
        if not (ref.isascii() and ref.isdigit()) or int(ref) == 0:
            return None
        payload = self._call("GET", f"V1.0/Companies/{int(ref)}", missing_ok=True)
        item = payload.get("item") if isinstance(payload, dict) else None
        return self._to_company(item) if item else None

    def search(self, text: str, limit: int = 25) -> list[Company]:
        items = [*self._wanted_filter(), {"op": "contains", "field": "companyName", "value": text}]
        body = {
            "MaxRecords": max(1, min(limit, MAX_PAGE)),
            "IncludeFields": COMPANY_FIELDS,
            "Filter": [{"op": "and", "items": items}],
        }
        payload = self._call("POST", "V1.0/Companies/query", json=body)
        found = [self._to_company(item) for item in _items(payload)]
        return [c for c in found if c is not None and c.active][:limit]

    def check(self) -> str:
        info = self.threshold_info()
        self._call(
            "POST",
            "V1.0/Companies/query",
            json={
                "MaxRecords": 1,
                "IncludeFields": ["id"],
                "Filter": [{"op": "gt", "field": "id", "value": 0}],
            },
        )
        zone = self._zone_name or "configured base URL"
        return (
            f"Autotask {zone} at {self._base_url}: API user {self.username} can read companies; "
            f"{info.used}/{info.threshold} requests used in the last {info.timeframe_minutes} min"
        )

    # -- company types ---------------------------------------------------------------------
    def company_type_values(self) -> frozenset[int] | None:
        """The `companyType` picklist values wanted (None = every type), read once per client.

        Numbers in the setting are taken as values; names are matched (case-insensitively) to the
        picklist's labels, which is what a person sees in Autotask. A name the picklist lacks is a
        settings error that lists the names it has, rather than an import of nobody.
        """
        if self._types_resolved:
            return self._type_values
        wanted = self._wanted_types
        if ALL_TYPES in wanted:
            values = None
        else:
            numbers = {int(t) for t in wanted if t.isdigit()}
            names = [t for t in wanted if not t.isdigit()]
            if names:
                labels = self._company_type_labels()
                unknown = [n for n in names if n.casefold() not in labels]
                if unknown:
                    raise PsaConfigError(
                        f"AUTOTASK_COMPANY_TYPES names {', '.join(unknown)}, which Autotask's company "
                        f"types do not include; they are: {', '.join(sorted(v[0] for v in labels.values()))}."
                    )
                numbers |= {labels[n.casefold()][1] for n in names}
            values = frozenset(numbers)
        with self._lock:
            self._type_values, self._types_resolved = values, True
        return values

    def _company_type_labels(self) -> dict[str, tuple[str, int]]:
        """casefolded label -> (label, value) of the `companyType` picklist."""
        payload = self._call("GET", "V1.0/Companies/entityInformation/fields")
        fields = payload.get("fields") if isinstance(payload, dict) else payload
        for field in fields if isinstance(fields, list) else []:
            if isinstance(field, dict) and str(field.get("name", "")).casefold() == "companytype":
                labels: dict[str, tuple[str, int]] = {}
                for option in field.get("picklistValues") or []:
                    with contextlib.suppress(KeyError, TypeError, ValueError):
                        label = str(option["label"]).strip()
                        labels[label.casefold()] = (label, int(option["value"]))
                if labels:
                    return labels
        raise PsaError(
            f"{VENDOR} did not list the companyType picklist in Companies/entityInformation/fields."
        )

    def _wanted_filter(self) -> list[dict[str, Any]]:
        values = self.company_type_values()
        if values is None:
            return list(ACTIVE_CUSTOMERS)
        return [*ACTIVE_CUSTOMERS, {"op": "in", "field": "companyType", "value": sorted(values)}]

    # -- threshold -------------------------------------------------------------------------
    def threshold_info(self) -> ThresholdInfo:
        """Read Autotask's request counter (it is itself a request, but not throttled)."""
        payload = self._call("GET", "V1.0/ThresholdInformation", throttle=False)
        try:
            info = ThresholdInfo(
                threshold=int(payload["externalRequestThreshold"]),
                timeframe_minutes=int(payload.get("requestThresholdTimeframe") or 60),
                used=int(payload["currentTimeframeRequestCount"]),
            )
        except (KeyError, TypeError, ValueError):
            raise PsaError(
                f"{VENDOR} sent ThresholdInformation we cannot read: {str(payload)[:120]}"
            ) from None
        self.last_threshold = info
        return info

    def _throttle(self) -> None:
        with self._lock:
            due = self._since_check % self._threshold.check_every == 0
            self._since_check += 1
        if due:
            info = self.threshold_info()
            if info.remaining <= 0:
                raise PsaUnavailable(
                    f"{VENDOR}'s API request threshold is used up ({info.used}/{info.threshold} in "
                    f"{info.timeframe_minutes} min, shared by all integrations); try again later."
                )
            delay = 0.0
            if info.used >= self._threshold.slow_down_at * info.threshold:
                delay = min(self._threshold.max_delay, info.timeframe_minutes * 60 / info.remaining)
            with self._lock:
                self._delay = delay
        if self._delay:
            self._sleep(self._delay)

    # -- wire ------------------------------------------------------------------------------
    def _ensure_zone(self, *, again: bool = False) -> None:
        """Discover the zone's API host once, on first use (construction does no I/O); `again`
        forgets a discovered zone first (a 401 can mean the database moved zones)."""
        if self._base_url is not None and not again:
            return
        with self._lock:
            if again and self._discovered:
                self._base_url = None
            if self._base_url is None:
                url = self._zone_url + "v1.0/zoneInformation"
                response = call_with_retry(
                    lambda: self._http.get(url, params={"user": self.username}),
                    vendor=VENDOR,
                    policy=self._retry,
                    sleep=self._sleep,
                    rng=self._rng,
                    should_retry=_should_retry,
                )
                payload = json_body(response, VENDOR) if response.content else {}
                zone = payload.get("url") if isinstance(payload, dict) else None
                if response.status_code >= 400 or not zone:
                    raise PsaAuthError(
                        f"{VENDOR} could not find the zone of API user {self.username!r} "
                        f"({_errors(payload) or f'HTTP {response.status_code}'}); check AUTOTASK_USERNAME."
                    )
                self._zone_name = payload.get("zoneName")
                self._http.base_url = httpx.URL(ensure_slash(str(zone)))
                self._base_url = ensure_slash(str(zone))
                self._discovered = True

    def _call(
        self, method: str, url: str, *, json: Any = None, missing_ok: bool = False, throttle: bool = True
    ) -> Any:
        self._ensure_zone()
        if throttle:
            self._throttle()
        response = self._send(method, url, json)
        if response.status_code == 401 and self._discovered:
            self._ensure_zone(again=True)
            response = self._send(method, url, json)
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 401:
            raise PsaAuthError(f"{VENDOR} rejected the API user's secret (HTTP 401); check AUTOTASK_SECRET.")
        if response.status_code >= 400:
            payload = _maybe_json(response)
            errors = _errors(payload)
            if response.status_code == 500 and AUTH_WORDS.search(errors):
                raise PsaAuthError(
                    f"{VENDOR} rejected the API user or integration code ({errors}); "
                    "check AUTOTASK_USERNAME and AUTOTASK_INTEGRATION_CODE."
                )
            raise PsaError(
                f"{VENDOR} refused {method} {url} (HTTP {response.status_code}): "
                f"{errors or response.text[:120]}"
            )
        return json_body(response, VENDOR)

    def _send(self, method: str, url: str, json: Any) -> httpx.Response:
        target = self._http.build_request(method, url).url
        api = httpx.URL(self._base_url or "")
        if (target.scheme, target.host, target.port) != (api.scheme, api.host, api.port):
            raise PsaError(
                f"{VENDOR} sent a link to {target.scheme}://{target.host}, not its API host {api.host}; "
                "not following it (our credentials go only to the zone's API host)."
            )

        def send() -> httpx.Response:
            with self._semaphore:
                return self._http.request(method, url, json=json, headers=self._credentials)

        return call_with_retry(
            send,
            vendor=VENDOR,
            policy=self._retry,
            sleep=self._sleep,
            rng=self._rng,
            should_retry=_should_retry,
        )

    def _query(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """POST a query and POST each `nextPageUrl` with the same body (Autotask answers a GET with 405)."""

        def fetch(url: str) -> Page[dict[str, Any], str]:
            payload = self._call("POST", url, json=body)
            details = (payload.get("pageDetails") or {}) if isinstance(payload, dict) else {}
            return Page(items=_items(payload), next=details.get("nextPageUrl") or None)

        return paginate(path, fetch, vendor=VENDOR)

    def _country_names(self) -> dict[int, str]:
        if self._countries is None:
            body = {
                "MaxRecords": MAX_PAGE,
                "IncludeFields": ["id", "name", "displayName"],
                "Filter": [{"op": "exist", "field": "id"}],
            }
            names = {
                int(c["id"]): str(c.get("displayName") or c.get("name") or "")
                for c in self._query("V1.0/Countries/query", body)
                if c.get("id") is not None
            }
            self._countries = names
        return self._countries

    def _to_company(self, item: dict[str, Any], countries: dict[int, str] | None = None) -> Company | None:
        try:
            ref = int(item["id"])
        except (KeyError, TypeError, ValueError):
            raise PsaError(f"{VENDOR} sent a company without an id: {str(item)[:120]}") from None
        if ref == 0:
            return None
        country_id = item.get("countryID")
        if country_id in (None, ""):
            country = None
        else:
            country = (countries if countries is not None else self._country_names()).get(int(country_id))
        get = item.get
        # Positional (in Company's field order): this runs once per company of a 50,000-company sync.
        return Company(
            KIND,
            str(ref),
            clean(get("companyName")) or f"Autotask company {ref}",
            clean(get("phone")),
            clean(get("address1")),
            clean(get("address2")),
            clean(get("city")),
            clean(get("state")),
            clean(get("postalCode")),
            clean(country),
            bool(get("isActive", True)) and self._wanted_type(get("companyType")),
        )

    def _wanted_type(self, value: Any) -> bool:
        """A company of a type outside AUTOTASK_COMPANY_TYPES is not a customer to rebill."""
        values = self.company_type_values()
        if values is None:
            return True
        try:
            return int(value) in values
        except (TypeError, ValueError):
            return False


def _should_retry(response: httpx.Response, policy: RetryPolicy) -> bool:
    """Autotask uses 500 both for outages and for request errors; only an errors-less 500 is transient."""
    if response.status_code not in policy.retry_statuses:
        return False
    if response.status_code == 500:
        return not _errors(_maybe_json(response))
    return True


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _errors(payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in payload["errors"]
        )
    return ""


def _items(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise PsaError(f"{VENDOR} sent a query result without items: {str(payload)[:120]}")
    return payload["items"]
