"""HaloPSA.

Quirks handled here:
- OAuth2 client credentials at `{auth_url}/token[?tenant=]` (auth_url defaults to `{url}/auth`); the
  token is cached until shortly before `expires_in` (the clock is injected), and a 401 from the
  resource server forces exactly one new token and one retry (tokens can be revoked early);
- `api/Client` may cap pages at 100 whatever `page_size` says, so we page until a short or empty
  page; `record_count` is only trusted to say "there is more", never to stop early;
- phone and address live on the client's main site, and `client_id` may arrive as `21.0`;
- to avoid one `api/Site` call per client on a big sync, we first page through *all* sites
  (`api/Site?pageinate=true`) and keep only each client's best site in a dict (memory grows with the
  number of clients, about 300 bytes each: fine for the tens of thousands a Halo instance holds). If
  the server refuses paged sites we fall back to one `api/Site?client_id=` per client (N+1, slower
  but correct).
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
        sites = self._all_main_sites() if self._bulk_sites else None
        for row in self._paged("api/Client", "clients", {"includeinactive": "false"}):
            if _truthy(row.get("inactive")):
                continue
            ref = _int_id(row.get("id"))
            site = sites.get(ref) if sites is not None else self._main_site(ref)
            yield self._to_company(row, site)

    def get_company(self, ref: str) -> Company | None:
        if not (ref.isascii() and ref.isdigit()):
            return None
        response = self._get(f"api/Client/{int(ref)}", missing_ok=True)
        if response is None:
            return None
        row = json_body(response, VENDOR)
        if not isinstance(row, dict) or row.get("id") is None:
            return None
        return self._to_company(row, self._main_site(int(ref)))

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
        return [self._to_company(r, self._main_site(_int_id(r.get("id")))) for r in rows]

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

    def _all_main_sites(self) -> dict[int, dict[str, Any]] | None:
        """Every client's best site from paged `api/Site`, or None if the server will not page sites."""
        best: dict[int, dict[str, Any]] = {}
        try:
            for site in self._paged("api/Site", "sites", {}):
                client = _int_id(site.get("client_id"))
                if _site_rank(site) > _site_rank(best.get(client)):
                    best[client] = _slim_site(site)
        except (PsaAuthError, PsaUnavailable):
            raise
        except PsaError:
            return None
        return best

    def _main_site(self, client_id: int) -> dict[str, Any] | None:
        payload = json_body(self._get("api/Site", params={"client_id": client_id}), VENDOR)
        sites = payload if isinstance(payload, list) else _list(payload, "sites")
        mine = [s for s in sites if _int_id(s.get("client_id"), default=client_id) == client_id]
        best = max(mine, key=_site_rank, default=None)
        return _slim_site(best) if best and _site_rank(best) > 0 else None

    @staticmethod
    def _to_company(row: dict[str, Any], site: dict[str, Any] | None) -> Company:
        ref = _int_id(row.get("id"))
        site = site or {}
        return Company(
            psa_kind=KIND,
            ref=str(ref),
            name=clean(row.get("name")) or f"HaloPSA client {ref}",
            phone=clean(site.get("phonenumber")),
            address_line1=clean(site.get("addressline1")),
            address_line2=clean(site.get("addressline2")),
            city=clean(site.get("city")),
            state=clean(site.get("county") or site.get("state")),
            postcode=clean(site.get("postcode")),
            country=clean(site.get("country")),
            active=not _truthy(row.get("inactive")),
        )


SITE_FIELDS = (
    "phonenumber",
    "addressline1",
    "addressline2",
    "city",
    "county",
    "state",
    "postcode",
    "country",
    "ismainsite",
    "inactive",
)


def _slim_site(site: dict[str, Any]) -> dict[str, Any]:
    """Keep only what we map, so the all-sites dict stays small."""
    return {k: site.get(k) for k in SITE_FIELDS}


def _site_rank(site: dict[str, Any] | None) -> int:
    """Main active site > any active site > an inactive site > none."""
    if site is None:
        return 0
    if _truthy(site.get("inactive")):
        return 1
    return 3 if _truthy(site.get("ismainsite")) else 2


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
