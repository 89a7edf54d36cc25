"""The one shape every PSA client has, the company record they all return, and their errors.

Callers (the cache refresh, the resync, `rebill-bot check`) only ever see `PsaClient` and `Company`,
so adding a vendor means one new module and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

import httpx

from core.errors import RebillError


@dataclass(frozen=True, slots=True)
class Company:
    """A PSA company reduced to the fields rebill-bot syncs; `ref` is the PSA's id as a string."""

    psa_kind: str
    ref: str
    name: str
    phone: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    active: bool = True
    # The PSA's billing e-mail (HaloPSA's `accountsemailaddress`), used only where we have none.
    email: str | None = None


@runtime_checkable
class PsaClient(Protocol):
    """What rebill-bot needs from a PSA. Implementations own one `httpx.Client`; call `close()`."""

    kind: str

    def iter_companies(self) -> Iterator[Company]:
        """Every active company, streamed page by page (never the whole list in memory)."""
        ...

    def get_company(self, ref: str) -> Company | None:
        """One company, active or not (the resync needs to see deactivations); None if unknown."""
        ...

    def search(self, text: str, limit: int = 25) -> list[Company]:
        """Active companies whose name contains `text`, asked of the PSA live."""
        ...

    def check(self) -> str:
        """Verify the credentials with one cheap call; return what we connected to."""
        ...

    def close(self) -> None: ...


class PsaError(RebillError):
    """The PSA refused or failed a request; the message says which PSA and what to do."""


class PsaAuthError(PsaError):
    """Credentials or permissions are wrong: retrying will not help, a person must fix settings."""


class PsaUnavailable(PsaError):
    """The PSA kept failing (5xx, 429, timeouts) after every retry; trying later may work."""


class PsaConfigError(PsaError):
    """The PSA settings are incomplete; the message names each missing variable."""


def clean(value: object) -> str | None:
    """PSAs send "", "  " and null interchangeably for an empty field; store them all as None."""
    if value is None:
        return None
    text = (value if type(value) is str else str(value)).strip()
    return text or None


class HttpClientBase:
    """What every vendor client shares: one `httpx.Client`, closed once, usable as a context manager."""

    _http: httpx.Client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
