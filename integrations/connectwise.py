"""ConnectWise PSA (Manage) REST 3.0.

Built from ConnectWise's published OpenAPI document for REST 3.0 (developer.connectwise.com; read
through its generated model docs, e.g. Jetbuilt/connect_wise `docs/Company.md`, `CompanyStatus.md`,
`CompanyType.md`): `Company` has `status` (`CompanyStatusReference {id, name}`), `types`
(`CompanyTypeReference[] {id, name}`), `deletedFlag`, `leadFlag`, `isVendorFlag`; `CompanyStatus`
(`company/companies/statuses`) has `inactiveFlag`.

Quirks handled here:
- `pageSize` defaults to 25 (a classic cause of "only 25 customers imported"): we always send 1000,
  the documented maximum, and follow the `Link: <...>; rel="next"` header rather than counting pages;
- we ask for forward-only paging (`pagination-type: forward-only`, keyed by the last id), which does
  not skip or repeat rows when companies are added mid-sync; a server that ignores the header still
  sends a page-number `Link`, which we follow just the same;
- forward-only paging is ordered by id already, so no `orderBy` is sent with it;
- deleted companies are filtered server-side (`deletedFlag=false`). A company is inactive when its
  status has `inactiveFlag` set (the statuses are read once per client, since a company's status
  reference carries only id and name) or when its status is named in `inactive_statuses`
  (CONNECTWISE_INACTIVE_STATUSES: names or ids, e.g. "Credit Hold"). If the statuses cannot be
  read, a status whose name contains "inactive" counts, as before;
- only customers by default: a company is offered when one of its `types` is named (or numbered)
  in `company_types` (CONNECTWISE_COMPANY_TYPES, default "Client", ConnectWise's own customer type;
  "*" = every type), so vendors, prospects and competitors are left out. The MSP's own company
  (its `identifier` is the company id you log in with; *unconfirmed* beyond ConnectWise's own
  setup guides) is always left out;
- 403 means the API member's security role lacks Company Maintenance: say so.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx

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

KIND = "connectwise"
VENDOR = "ConnectWise"
API_PATH = "v4_6_release/apis/3.0/"
MAX_PAGE = 1000
FIELDS = (
    "id,identifier,name,status,types,addressLine1,addressLine2,city,state,zip,country,phoneNumber,deletedFlag"
)
CONNECTWISE_DEFAULT_TYPES = ("Client",)
ALL_TYPES = "*"


def connectwise_base_url(site: str) -> str:
    """`api-na.myconnectwise.net`, `https://host` or a full `.../apis/3.0/` URL → the REST base URL."""
    site = site.strip()
    url = site if "://" in site else f"https://{site}"
    url = ensure_slash(url)
    return url if "/apis/3.0/" in url else url + API_PATH


class ConnectWiseClient(HttpClientBase):
    kind = KIND

    def __init__(
        self,
        *,
        site: str,
        company_id: str,
        public_key: str,
        private_key: str,
        client_id: str,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        page_size: int = MAX_PAGE,
        forward_only: bool = True,
        inactive_statuses: Iterable[str] = (),
        company_types: Iterable[str] = CONNECTWISE_DEFAULT_TYPES,
    ) -> None:
        self.base_url = connectwise_base_url(site)
        self._http = make_http_client(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"clientId": client_id},
            auth=(f"{company_id}+{public_key}", private_key),
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._page_size = max(1, min(page_size, MAX_PAGE))
        self._forward_only = forward_only
        self._own_identifier = company_id.strip().casefold()
        self._inactive_named = {s.strip().casefold() for s in inactive_statuses if s.strip()}
        types = {t.strip().casefold() for t in company_types if t.strip()} or {
            t.casefold() for t in CONNECTWISE_DEFAULT_TYPES
        }
        self._types = None if ALL_TYPES in types else types
        self._inactive_ids: frozenset[int] | None = None
        self._statuses_read = False

    # -- protocol --------------------------------------------------------------------------
    def iter_companies(self) -> Iterator[Company]:
        params: dict[str, Any] = {
            "conditions": "deletedFlag=false",
            "pageSize": self._page_size,
            "fields": FIELDS,
        }
        if not self._forward_only:
            params |= {"orderBy": "id asc", "page": 1}
        headers = {"pagination-type": "forward-only"} if self._forward_only else {}

        def fetch(url: str) -> Page[dict[str, Any], str]:
            response = self._get(url, headers=headers)
            next_url = response.links.get("next", {}).get("url")
            return Page(items=_rows(json_body(response, VENDOR)), next=next_url or None)

        for row in paginate("company/companies?" + urlencode(params), fetch, vendor=VENDOR):
            company = self._to_company(row)
            if company.active:
                yield company

    def get_company(self, ref: str) -> Company | None:
        if not (ref.isascii() and ref.isdigit()):
            return None
        response = self._get(f"company/companies/{int(ref)}", missing_ok=True)
        if response is None:
            return None
        return self._to_company(json_body(response, VENDOR))

    def search(self, text: str, limit: int = 25) -> list[Company]:
        needle = text.replace("\\", "").replace('"', '\\"').replace("%", "")
        params = {
            "conditions": f'deletedFlag=false and name like "%{needle}%"',
            "orderBy": "name asc",
            "pageSize": max(1, min(limit * 2, MAX_PAGE)),
            "fields": FIELDS,
        }
        response = self._get("company/companies", params=params)
        found = [self._to_company(row) for row in _rows(json_body(response, VENDOR))]
        return [c for c in found if c.active][:limit]

    def check(self) -> str:
        info = json_body(self._get("system/info"), VENDOR)
        self._get("company/companies", params={"pageSize": 1, "fields": "id"})
        version = info.get("version", "unknown version") if isinstance(info, dict) else "unknown version"
        return f"ConnectWise PSA {version} at {self.base_url}: API member can read companies"

    # -- wire ------------------------------------------------------------------------------
    def _get(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        response = call_with_retry(
            lambda: self._http.get(url, params=params, headers=headers),
            vendor=VENDOR,
            policy=self._retry,
            sleep=self._sleep,
            rng=self._rng,
        )
        status = response.status_code
        if status == 404 and missing_ok:
            return None
        if status == 401:
            raise PsaAuthError(
                f"{VENDOR} rejected the API keys (HTTP 401); check CONNECTWISE_COMPANY_ID, "
                "CONNECTWISE_PUBLIC_KEY and CONNECTWISE_PRIVATE_KEY."
            )
        if status == 403:
            raise PsaAuthError(
                f"{VENDOR}: the API member lacks Company Maintenance access (HTTP 403); give its "
                "security role Inquire rights on Companies > Company Maintenance."
            )
        if status >= 400:
            raise PsaError(f"{VENDOR} refused GET {url.split('?')[0]} (HTTP {status}): {_describe(response)}")
        return response

    def _to_company(self, row: dict[str, Any]) -> Company:
        if not isinstance(row, dict) or row.get("id") is None:
            raise PsaError(f"{VENDOR} sent a company without an id: {str(row)[:120]}")
        country = row.get("country")
        return Company(
            psa_kind=KIND,
            ref=str(int(row["id"])),
            name=clean(row.get("name")) or f"ConnectWise company {row['id']}",
            phone=clean(row.get("phoneNumber")),
            address_line1=clean(row.get("addressLine1")),
            address_line2=clean(row.get("addressLine2")),
            city=clean(row.get("city")),
            state=clean(row.get("state")),
            postcode=clean(row.get("zip")),
            country=clean(country.get("name") if isinstance(country, dict) else country),
            active=not row.get("deletedFlag") and not self._inactive(row) and self._wanted(row),
        )

    def _inactive(self, row: dict[str, Any]) -> bool:
        status = row.get("status")
        status = status if isinstance(status, dict) else {"name": status}
        name = str(status.get("name") or "").strip().casefold()
        status_id = _int(status.get("id"))
        if name in self._inactive_named or (status_id is not None and str(status_id) in self._inactive_named):
            return True
        flagged = self._inactive_status_ids()
        if flagged is None:  # statuses unreadable: the old rule
            return "inactive" in name
        return status_id in flagged

    def _inactive_status_ids(self) -> frozenset[int] | None:
        """Ids of the statuses with `inactiveFlag`, read once; None if this API member cannot read them."""
        if not self._statuses_read:
            params = {"pageSize": MAX_PAGE, "fields": "id,name,inactiveFlag"}
            try:
                rows = _rows(json_body(self._get("company/companies/statuses", params=params), VENDOR))
                ids: frozenset[int] | None = frozenset(
                    i for r in rows if r.get("inactiveFlag") and (i := _int(r.get("id"))) is not None
                )
            except PsaUnavailable:
                raise
            except PsaError:
                ids = None
            self._inactive_ids, self._statuses_read = ids, True
        return self._inactive_ids

    def _wanted(self, row: dict[str, Any]) -> bool:
        """A customer to rebill: one of the wanted types, and not the MSP's own company."""
        if str(row.get("identifier") or "").strip().casefold() == self._own_identifier:
            return False
        if self._types is None:
            return True
        for kind in row.get("types") or []:
            if isinstance(kind, dict) and (
                str(kind.get("name") or "").strip().casefold() in self._types
                or str(kind.get("id")) in self._types
            ):
                return True
        return False


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _rows(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list):
        raise PsaError(f"{VENDOR} sent a company list that is not a list: {str(payload)[:120]}")
    return payload


def _describe(response: httpx.Response) -> str:
    """ConnectWise errors: `{"code", "message", "errors": [{"code","message","field"}]}`."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:120] or "no details"
    if not isinstance(payload, dict):
        return str(payload)[:120]
    parts = [str(payload.get("message") or payload.get("code") or "")]
    for err in payload.get("errors") or []:
        if isinstance(err, dict):
            parts.append(
                f"{err.get('field') or err.get('resource') or ''}: {err.get('message', '')}".strip(": ")
            )
    return "; ".join(p for p in parts if p) or "no details"
