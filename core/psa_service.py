"""PSA use cases shared by Slack, the CLI and the scheduler: refresh the cache, import and link
customers from it, and resync linked customers. No Slack here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core import customers
from core.clock import Clock
from core.customer_validation import MAX_LENGTHS, CustomerInput, validate_customer
from core.db import session_scope
from core.errors import FieldErrors, NotFound, RebillError
from core.psa_cache import RefreshResult, cache_is_empty, cached_lookup, get_cached, refresh_cache
from core.psa_sync import SyncResult, sync_customers
from integrations.base import PsaClient
from integrations.config import PsaSettings, make_client
from models.customers import EndCustomer
from models.psa import PsaCompany

VENDOR_NAMES = {"autotask": "Autotask", "connectwise": "ConnectWise PSA", "halopsa": "HaloPSA"}


def vendor_name(kind: str | None) -> str | None:
    return VENDOR_NAMES.get(kind or "")


@contextmanager
def client_for(psa: PsaSettings) -> Iterator[PsaClient]:
    client = make_client(psa)
    if client is None:
        raise RebillError("No PSA is configured: set REBILL_PSA (autotask, connectwise or halopsa).")
    try:
        yield client
    finally:
        client.close()


def refresh(
    engine: Engine, psa: PsaSettings, *, clock: Clock, wrap: Callable[[PsaClient], PsaClient] | None = None
) -> RefreshResult:
    """Re-read every active company into the cache; a failure leaves the old cache as it was.

    `wrap` lets a caller watch the companies stream past (the CLI's progress line)."""
    with client_for(psa) as client:
        assert psa.rebill_psa is not None
        source = wrap(client) if wrap else client
        return refresh_cache(engine=engine, client=source, psa_kind=psa.rebill_psa, clock=clock)


def cache_empty(engine: Engine, psa_kind: str) -> bool:
    with session_scope(engine, write=False) as db:
        return cache_is_empty(db=db, psa_kind=psa_kind)


def ensure_cache(engine: Engine, psa: PsaSettings, *, clock: Clock) -> bool:
    """Fill an empty cache from the PSA; True if it had to (the caller showed a loading state)."""
    assert psa.rebill_psa is not None
    empty = cache_empty(engine, psa.rebill_psa)
    if empty:
        refresh(engine, psa, clock=clock)
    return empty


@dataclass(frozen=True)
class SyncReport:
    refreshed: RefreshResult
    synced: SyncResult


def refresh_and_sync(
    engine: Engine,
    psa: PsaSettings,
    *,
    actor: str,
    clock: Clock,
    wrap: Callable[[PsaClient], PsaClient] | None = None,
) -> SyncReport:
    """The scheduled (and `rebill-bot psa sync`) job: refresh the cache, then resync every linked
    customer from it. A failed refresh raises before any customer is touched."""
    refreshed = refresh(engine, psa, clock=clock, wrap=wrap)
    assert psa.rebill_psa is not None
    with session_scope(engine) as db:
        lookup = cached_lookup(db=db, psa_kind=psa.rebill_psa)
        synced = sync_customers(
            db=db, psa_kind=psa.rebill_psa, companies_by_ref=lookup, actor=actor, clock=clock
        )
    return SyncReport(refreshed, synced)


def resync_customer(
    engine: Engine, psa: PsaSettings, customer_id: int, *, actor: str, clock: Clock
) -> SyncResult:
    """Ask the PSA itself (not the cache) about one linked customer, and apply what it says.

    The PSA call happens with no database transaction open: on SQLite a transaction holds the
    write lock, and a slow PSA must not stall every other request.
    """
    with session_scope(engine, write=False) as db:
        customer = customers.get(db, customer_id)
        ref, kind, name = customer.psa_ref, customer.psa_kind, customer.company_name
    if not ref or kind != psa.rebill_psa:
        raise RebillError(f"{name} is not linked to {vendor_name(psa.rebill_psa) or 'a PSA'}.")
    with client_for(psa) as client:
        found = client.get_company(ref)
    with session_scope(engine) as db:
        return sync_customers(
            db=db,
            psa_kind=kind,
            companies_by_ref={ref: found} if found else {},
            actor=actor,
            clock=clock,
            customer_ids=[customer_id],
        )


def count_cached(db: Session, psa_kind: str) -> int:
    return int(db.exec(select(func.count()).where(PsaCompany.psa_kind == psa_kind)).one())


def company(db: Session, psa_kind: str, ref: str) -> PsaCompany:
    found = get_cached(db=db, psa_kind=psa_kind, ref=ref)
    if found is None:
        raise NotFound(
            f"{vendor_name(psa_kind)} company {ref} is not in the company list; refresh it and try again."
        )
    return found


def linked_customer(db: Session, psa_kind: str, ref: str) -> EndCustomer | None:
    return db.exec(
        select(EndCustomer).where(EndCustomer.psa_kind == psa_kind, EndCustomer.psa_ref == ref)
    ).first()


def check_not_imported(db: Session, psa_kind: str, ref: str, *, field: str = "psa_ref") -> None:
    existing = linked_customer(db, psa_kind, ref)
    if existing is not None:
        archived = " (archived)" if existing.archived_at else ""
        raise FieldErrors(
            {field: f"Already imported as “{existing.company_name}”{archived} (id {existing.id})."}
        )


def import_input(row: PsaCompany, *, email: object, payment_terms_days: object) -> CustomerInput:
    """The four synced fields from the PSA, plus what only we know: e-mail and payment terms.

    An e-mail left blank is taken from the PSA's billing e-mail when it has one (HaloPSA's
    `accountsemailaddress`), so a Halo import does not start with the missing-e-mail banner."""
    if (email is None or not str(email).strip()) and row.email:
        email = row.email
    synced = {
        "company_name": row.name,
        "contact_number": re.sub(r"[^0-9+()\-. ]", "", row.phone or "").strip() or None,
        "address_line1": row.address_line1,
        "address_line2": row.address_line2,
        "city": row.city,
        "state": row.state,
        "postcode": row.postcode,
        "country": row.country,
    }
    # The PSA's data is what it is: cut it to our column sizes rather than refuse the import.
    synced = {k: (v[: MAX_LENGTHS[k]] if isinstance(v, str) else v) for k, v in synced.items()}
    return validate_customer(synced | {"email": email, "payment_terms_days": payment_terms_days})


def import_customer(
    db: Session,
    psa_kind: str,
    ref: str,
    *,
    email: object,
    payment_terms_days: object,
    actor: str,
    clock: Clock,
    create_key: str | None = None,
) -> EndCustomer:
    earlier = customers.by_create_key(db, create_key) if create_key else None
    if earlier is not None:
        return earlier
    check_not_imported(db, psa_kind, ref)
    data = import_input(company(db, psa_kind, ref), email=email, payment_terms_days=payment_terms_days)
    customer = customers.create(
        db, data, actor=actor, clock=clock, create_key=create_key, psa_kind=psa_kind, psa_ref=ref
    )
    customer.psa_synced_at = clock.now()
    db.add(customer)
    return customer
