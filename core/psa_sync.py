"""Re-apply the PSA's view of each linked end customer: the four synced fields, and whether it is
still active there. Payment terms are ours alone; the e-mail is ours too, except that an empty one
is filled from the PSA's billing e-mail (HaloPSA's `accountsemailaddress`) when it has one.

A resync never erases: a field the PSA sends empty keeps what rebill-bot holds (someone may have
typed the address in by hand because the PSA has none). Every change is audited with old and new
values and listed in `SyncResult.changes`, which the CLI, the Slack resync and the scheduled
refresh's alert show.

The caller owns the transaction (a Slack request's session, the CLI's, or the nightly job's): we only
flush, so a failure part-way leaves nothing applied.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from core.clock import Clock
from core.customer_validation import LABELS, parse_email
from core.psa_cache import column_limits, fit
from core.text import name_key
from integrations.base import Company
from models.customers import EndCustomer
from models.system import AuditLog

CompanyLookup = Mapping[str, Company] | Callable[[str], Company | None]
LIMITS = column_limits(EndCustomer.__table__)  # type: ignore[attr-defined]
# EndCustomer field <- Company field: the partner portal's synced fields (Integration Reference,
# psa_ref, is the link itself and never changes here).
SYNCED = {
    "company_name": "name",
    "contact_number": "phone",
    "address_line1": "address_line1",
    "address_line2": "address_line2",
    "city": "city",
    "state": "state",
    "postcode": "postcode",
    "country": "country",
}
BATCH_SIZE = 500


@dataclass(frozen=True)
class CustomerChange:
    """What one resync changed on one customer: field -> [old, new], as in its audit row."""

    customer_id: int
    name: str
    fields: dict[str, Any]

    def describe(self) -> list[str]:
        """One line per field, "Suburb / city: Sydney → Parramatta", for summaries and alerts."""
        out = []
        for name, (old, new) in self.fields.items():
            if name == "psa_inactive":
                out.append("now inactive in the PSA" if new else "active in the PSA again")
            else:
                out.append(f"{LABELS.get(name, name)}: {_shown(old)} → {_shown(new)}")
        return out


def _shown(value: object) -> str:
    return "(empty)" if value in (None, "") else str(value)


@dataclass
class SyncResult:
    checked: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    reactivated: int = 0
    name_conflicts: list[int] = field(default_factory=list)
    changes: list[CustomerChange] = field(default_factory=list)


def _lookup_fn(companies_by_ref: CompanyLookup) -> Callable[[str], Company | None]:
    if isinstance(companies_by_ref, Mapping):
        return companies_by_ref.get
    return companies_by_ref


def _name_taken(db: Session, key: str, customer_id: int | None) -> bool:
    """Active customer names are unique; a PSA rename onto another customer's name must not crash."""
    return (
        db.exec(
            select(EndCustomer.id)
            .where(
                EndCustomer.name_key == key,
                col(EndCustomer.archived_at).is_(None),
                EndCustomer.id != customer_id,
            )
            .limit(1)
        ).first()
        is not None
    )


def sync_customers(
    *,
    db: Session,
    psa_kind: str,
    companies_by_ref: CompanyLookup,
    actor: str,
    clock: Clock,
    batch_size: int = BATCH_SIZE,
    customer_ids: Collection[int] | None = None,
) -> SyncResult:
    """Refresh every active (not archived) customer linked to `psa_kind`; return what happened.

    `companies_by_ref` maps a PSA ref to its `Company`: a dict, `core.psa_cache.cached_lookup`
    (cache = active companies only), or a live `client.get_company`. A company that is absent or
    inactive flags the customer `psa_inactive` (it is not archived: someone decides that in Slack).
    A rename that would collide with another active customer's name keeps the old name and is
    reported in `name_conflicts`. Every change is written to the audit log with old and new values.
    """
    lookup = _lookup_fn(companies_by_ref)
    now = clock.now()
    result = SyncResult()
    last_id = 0
    while True:
        customers = db.exec(
            select(EndCustomer)
            .where(
                EndCustomer.psa_kind == psa_kind,
                col(EndCustomer.psa_ref).is_not(None),
                col(EndCustomer.archived_at).is_(None),
                col(EndCustomer.id) > last_id,
                *([col(EndCustomer.id).in_(customer_ids)] if customer_ids is not None else []),
            )
            .order_by(col(EndCustomer.id))
            .limit(batch_size)
        ).all()
        if not customers:
            break
        for customer in customers:
            assert customer.id is not None and customer.psa_ref is not None
            last_id = customer.id
            result.checked += 1
            company = lookup(customer.psa_ref)
            changes = _apply(db, customer, company, result)
            if changes:
                customer.updated_at = now
                customer.updated_by = actor
                db.add(
                    AuditLog(
                        at=now,
                        actor=actor,
                        entity="customer",
                        entity_id=str(customer.id),
                        action="psa_sync",
                        changes=changes,
                    )
                )
                result.updated += 1
                result.changes.append(CustomerChange(customer.id, customer.company_name, changes))
            else:
                result.unchanged += 1
            if company is not None:  # "synced" means the PSA answered for this company
                customer.psa_synced_at = now
            db.add(customer)
        db.flush()
    return result


def _apply(db: Session, customer: EndCustomer, company: Company | None, result: SyncResult) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    inactive = company is None or not company.active
    if inactive != customer.psa_inactive:
        changes["psa_inactive"] = [customer.psa_inactive, inactive]
        customer.psa_inactive = inactive
        if inactive:
            result.deactivated += 1
        else:
            result.reactivated += 1
    if company is None:
        return changes
    for ours, theirs in SYNCED.items():
        new = fit(getattr(company, theirs), LIMITS.get(ours))
        old = getattr(customer, ours)
        if new is None or not new.strip() or new == old:  # empty in the PSA: keep ours, never erase
            continue
        if ours == "company_name":
            assert new is not None
            key = fit(name_key(new), LIMITS.get("name_key")) or ""
            if key != customer.name_key and _name_taken(db, key, customer.id):
                assert customer.id is not None
                result.name_conflicts.append(customer.id)
                continue
            customer.name_key = key
        changes[ours] = [old, new]
        setattr(customer, ours, new)
    if customer.email is None and company.email:
        email = parse_email(company.email, {})  # an invalid PSA address is left out, not stored
        if email is not None:
            changes["email"] = [None, email]
            customer.email = email
    return changes
