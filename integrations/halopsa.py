"""HaloPSA.

Built from Halo's published OpenAPI document (halopsa-rest `generator/spec/swagger.json`, "Halo API"
v2: schemas `Area` = client, `Site_List`, `Site`, `AddressStore`; parameters of `GET /Client` and
`GET /Site`). The fields we read are listed in `tests/integrations/samples/README.md` with the
sample responses that pin them.

Quirks handled here:
- OAuth2 client credentials at `{auth_url}/token[?tenant=]` (auth_url defaults to `{url}/auth`); the
  token is cached until shortly before `expires_in` (the clock is injected), and a 401 from the
  resource server forces exactly one new token and one retry (tokens can be revoked early);
- `api/Client` may cap pages at 100 whatever `page_size` says, so we page until a short or empty
  page; `record_count` is only trusted to say "there is more", never to stop early;
- phone and address live on the client's **main site**, the site whose id is the client's
  `main_site_id` (Halo has no "is main site" flag; the first site listed may be a warehouse).
  Sites carry their address only with `includeaddress=true`, as free-form
  `delivery_address_line1..5` plus `region_code_name`/`country_code_name`, mapped by the rule in
  `integrations.address_lines`; `client_id` may arrive as `21.0`;
- the spec's `Area` has `main_site_id`, but Halo's list responses are not typed in the spec, so a
  client row without `main_site_id` (*unconfirmed* whether list rows always carry it) costs one
  `api/Client/{id}` call to learn it rather than a guess;
- the client's `accountsemailaddress` (the accounts contact's e-mail) is imported as the
  customer's invoice e-mail when the customer has none;
- to avoid one `api/Site` call per client on a big sync, we first page through *all* sites
  (`api/Site?pageinate=true&includeaddress=true`) and keep each site's mapped fields in a dict by
  site id (about 300 bytes a site: fine for the tens of thousands a Halo instance holds). If the
  server refuses paged sites we fall back to one `api/Site?client_id=` per client (N+1, slower but
  correct).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx

from core.clock import Clock, SystemClock
from integrations.address_lines import split_address
from integrations.base import Company, HttpClientBase, PsaAuthError, PsaError, PsaUnavailable, clean
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

KIND = "halopsa"
VENDOR = "HaloPSA"
PAGE_SIZE = 100
TOKEN_MARGIN = timedelta(seconds=60)


class HaloPsaClient(HttpClientBase):
    kind = KIND

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        client_secret: str,
        auth_url: str | None = None,
        tenant: str | None = None,
        scope: str = "all",
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        page_size: int = PAGE_SIZE,
        bulk_sites: bool = True,
    ) -> None:
        self.url = ensure_slash(url.strip())
        self.auth_url = ensure_slash(auth_url.strip()) if auth_url else self.url + "auth/"
        self._tenant = tenant or None
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._http = make_http_client(base_url=self.url, timeout=timeout, transport=transport)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock or SystemClock()
        self._page_size = max(1, page_size)
        self._bulk_sites = bulk_sites
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_expires: datetime | None = None

    # -- protocol --------------------------------------------------------------------------
    def iter_companies(self) -> Iterator[Company]:
        sites = self._all_sites() if self._bulk_sites else None
        for row in self._paged("api/Client", "clients", {"includeinactive": "false"}):
            if _truthy(row.get("inactive")):
                continue
            yield self._with_main_site(row, sites)

    def get_company(self, ref: str) -> Company | None:
        if not (ref.isascii() and ref.isdigit()):
            return None
        response = self._get(f"api/Client/{int(ref)}", missing_ok=True)
        if response is None:
            return None
        row = json_body(response, VENDOR)
        if not isinstance(row, dict) or row.get("id") is None:
            return None
        return self._with_main_site(row, None, full=True)

    def search(self, text: str, limit: int = 25) -> list[Company]:
        params = {
            "pageinate": "true",
            "page_size": max(1, min(limit, PAGE_SIZE)),
            "page_no": 1,
            "search": text,
            "includeinactive": "false",
        }
        payload = json_body(self._get("api/Client", params=params), VENDOR)
        rows = [r for r in _list(payload, "clients") if not _truthy(r.get("inactive"))][:limit]
        return [self._with_main_site(r, None) for r in rows]

    def check(self) -> str:
        params = {"pageinate": "true", "page_size": 1, "page_no": 1, "includeinactive": "false"}
        payload = json_body(self._get("api/Client", params=params), VENDOR)
        count = payload.get("record_count", "?") if isinstance(payload, dict) else "?"
        return f"HaloPSA at {self.url}: token from {self.auth_url} accepted; {count} active clients"

    # -- auth ------------------------------------------------------------------------------
    def _access_token(self, *, renew: bool = False) -> str:
        with self._lock:
            now = self._clock.now()
            if renew or self._token is None or self._token_expires is None or now >= self._token_expires:
                self._token, self._token_expires = self._request_token(now)
            return self._token

    def _request_token(self, now: datetime) -> tuple[str, datetime]:
        params = {"tenant": self._tenant} if self._tenant else None
        response = call_with_retry(
            lambda: self._http.post(self.auth_url + "token", data=self._form, params=params),
            vendor=VENDOR,
            policy=self._retry,
            sleep=self._sleep,
            rng=self._rng,
        )
        payload: Any = None
        with contextlib.suppress(ValueError):
            payload = response.json()
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if response.status_code >= 400 or not token:
            detail = (
                payload.get("error")
                if isinstance(payload, dict) and payload.get("error")
                else (response.text[:80] or "no details")
            )
            raise PsaAuthError(
                f"{VENDOR}: token request failed (HTTP {response.status_code}: {detail}); check "
                "HALOPSA_CLIENT_ID, HALOPSA_CLIENT_SECRET, HALOPSA_TENANT and HALOPSA_AUTH_URL."
            )
        try:
            lifetime = timedelta(seconds=float(payload.get("expires_in") or 3600))
        except (TypeError, ValueError):
            lifetime = timedelta(hours=1)
        # Renew a minute early (or halfway, for very short tokens) so a token never expires mid-request.
        return str(token), now + max(lifetime - TOKEN_MARGIN, lifetime / 2)

    # -- wire ------------------------------------------------------------------------------
    def _get(self, url: str, *, params: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        response = self._send(url, params, self._access_token())
        if response.status_code == 401:
            response = self._send(url, params, self._access_token(renew=True))
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 401:
            raise PsaAuthError(
                f"{VENDOR} rejected a fresh access token (HTTP 401); check the API application."
            )
        if status == 403:
            raise PsaAuthError(
                f"{VENDOR}: the API application lacks permission to read {url.split('?')[0]} (HTTP 403)."
            )
        if status >= 400:
            raise PsaError(f"{VENDOR} refused GET {url.split('?')[0]} (HTTP {status}): {response.text[:120]}")
        return response

    def _send(self, url: str, params: dict[str, Any] | None, token: str) -> httpx.Response:
        return call_with_retry(
            lambda: self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}"}),
            vendor=VENDOR,
            policy=self._retry,
            sleep=self._sleep,
            rng=self._rng,
        )

    def _paged(self, url: str, key: str, extra: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Page until a short or empty page; a full page, or `record_count` above what we saw, means more."""
        seen = 0

        def fetch(page_no: int) -> Page[dict[str, Any], int]:
            nonlocal seen
            params = {"pageinate": "true", "page_size": self._page_size, "page_no": page_no, **extra}
            payload = json_body(self._get(url, params=params), VENDOR)
            rows = _list(payload, key)
            seen += len(rows)
            total = payload.get("record_count") if isinstance(payload, dict) else None
            more = bool(rows) and (len(rows) >= self._page_size or (isinstance(total, int) and total > seen))
            return Page(items=rows, next=page_no + 1 if more else None)

        return paginate(1, fetch, vendor=VENDOR)

    def _all_sites(self) -> dict[int, dict[str, Any]] | None:
        """Every site's mapped fields by site id, from paged `api/Site`; None if the server refuses."""
        sites: dict[int, dict[str, Any]] = {}
        try:
            for site in self._paged("api/Site", "sites", {"includeaddress": "true"}):
                site_id = _int_id(site.get("id"), default=-1)
                if site_id >= 0:
                    sites[site_id] = site_fields(site)
        except (PsaAuthError, PsaUnavailable):
            raise
        except PsaError:
            return None
        return sites

    def _client_sites(self, client_id: int) -> dict[int, dict[str, Any]]:
        params = {"client_id": client_id, "includeaddress": "true"}
        payload = json_body(self._get("api/Site", params=params), VENDOR)
        rows = payload if isinstance(payload, list) else _list(payload, "sites")
        return {
            _int_id(s.get("id")): site_fields(s)
            for s in rows
            if isinstance(s, dict) and _int_id(s.get("client_id"), default=client_id) == client_id
        }

    def _with_main_site(
        self, row: dict[str, Any], sites: dict[int, dict[str, Any]] | None, *, full: bool = False
    ) -> Company:
        """The client with its main site's phone and address (none rather than another site's)."""
        ref = _int_id(row.get("id"))
        if "main_site_id" not in row and not full:
            response = self._get(f"api/Client/{ref}", missing_ok=True)
            detail = json_body(response, VENDOR) if response is not None else None
            if isinstance(detail, dict):
                row = {**detail, **{k: v for k, v in row.items() if v is not None}}
        main = _int_id(row.get("main_site_id"), default=-1)
        site = None
        if main > 0:
            site = sites.get(main) if sites is not None else None
            if site is None:  # not in the bulk list (or no bulk list): ask for this client's sites
                site = self._client_sites(ref).get(main)
        return to_company(row, site)


SITE_FIELDS = ("phone", "address_line1", "address_line2", "city", "state", "postcode", "country")


def site_fields(site: dict[str, Any]) -> dict[str, Any]:
    """A `Site_List` (or full `Site`) row reduced to our fields, by the documented address rule."""
    full = site.get("delivery_address")
    if isinstance(full, dict) and not any(site.get(f"delivery_address_line{i}") for i in range(1, 6)):
        lines: list[Any] = [full.get(f"line{i}") for i in range(1, 5)]
        postcode = full.get("postcode")
    else:
        lines = [site.get(f"delivery_address_line{i}") for i in range(1, 6)]
        postcode = None
    country = site.get("country_code_name")
    address = split_address(lines, postcode=postcode, region=site.get("region_code_name"), country=country)
    return {
        "phone": clean(site.get("phonenumber")),
        "address_line1": address.address_line1,
        "address_line2": address.address_line2,
        "city": address.city,
        "state": address.state,
        "postcode": address.postcode,
        "country": clean(country),
    }


def to_company(row: dict[str, Any], site: dict[str, Any] | None) -> Company:
    """A Halo client (`Area`) and its main site's mapped fields as a `Company`."""
    ref = _int_id(row.get("id"))
    site = site or {}
    return Company(
        psa_kind=KIND,
        ref=str(ref),
        name=clean(row.get("name")) or f"HaloPSA client {ref}",
        active=not _truthy(row.get("inactive")),
        email=clean(row.get("accountsemailaddress")),
        **{field: site.get(field) for field in SITE_FIELDS},
    )


def _int_id(value: Any, *, default: int | None = None) -> int:
    """Halo sends ids as 21, "21" or 21.0."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        if default is not None:
            return default
        raise PsaError(f"{VENDOR} sent a record without a usable id: {value!r}") from None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _list(payload: Any, key: str) -> list[dict[str, Any]]:
    if isinstance(payload, dict) and isinstance(payload.get(key), list):
        return payload[key]
    raise PsaError(f"{VENDOR} sent a response without '{key}': {str(payload)[:120]}")
