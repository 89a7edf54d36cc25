"""End customers: create, find, list, edit, archive. Plain Python over a session; no Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import audit
from core.clock import Clock
from core.customer_validation import CUSTOMER_FIELDS, CustomerInput
from core.errors import FieldErrors, NotFound
from core.text import ascii_digits, name_key
from models.customers import EndCustomer

PAGE_SIZE = 20


def get(db: Session, customer_id: int) -> EndCustomer:
    customer = db.get(EndCustomer, customer_id)
    if customer is None:
        raise NotFound(f"There is no end customer with id {customer_id}.")
    return customer


def find(db: Session, ref: str) -> EndCustomer:
    """By id, exact name, or a unique partial name match, so users can type what they remember."""
    ref = ref.strip()
    if ascii_digits(ref):
        customer = db.get(EndCustomer, int(ref))
        if customer is not None:
            return customer
    key = name_key(ref)
    exact = db.exec(
        select(EndCustomer)
        .where(EndCustomer.name_key == key)
        .order_by(col(EndCustomer.archived_at).is_not(None))
    ).first()
    if exact is not None:
        return exact
    matches = db.exec(
        select(EndCustomer)
        .where(
            col(EndCustomer.name_key).contains(key, autoescape=True), col(EndCustomer.archived_at).is_(None)
        )
        .order_by(EndCustomer.name_key)
        .limit(6)
    ).all()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFound(
            f"No end customer matches “{ref}”. Search with `/rebill customers {ref}` in Slack, or "
            f"`rebill-bot customers list {ref}` on the command line."
        )
    names = ", ".join(m.company_name for m in matches[:5])
    raise NotFound(f"“{ref}” matches several customers ({names}). Be more specific, or use the id.")


def by_create_key(db: Session, create_key: str) -> EndCustomer | None:
    return db.exec(select(EndCustomer).where(EndCustomer.create_key == create_key)).first()


def _active_with_name(db: Session, key: str, *, exclude_id: int | None = None) -> EndCustomer | None:
    query = select(EndCustomer).where(EndCustomer.name_key == key, col(EndCustomer.archived_at).is_(None))
    if exclude_id is not None:
        query = query.where(EndCustomer.id != exclude_id)
    return db.exec(query).first()


def _duplicate(existing: EndCustomer) -> FieldErrors:
    return FieldErrors(
        {
            "company_name": (
                f"An active customer is already called “{existing.company_name}” (id {existing.id})."
            )
        }
    )


def create(
    db: Session,
    data: CustomerInput,
    *,
    actor: str,
    clock: Clock,
    create_key: str | None = None,
    psa_kind: str | None = None,
    psa_ref: str | None = None,
) -> EndCustomer:
    """Create once: a repeated submission with the same `create_key` returns the first customer."""
    if create_key:
        earlier = by_create_key(db, create_key)
        if earlier is not None:
            return earlier
    key = name_key(data.company_name)
    existing = _active_with_name(db, key)
    if existing is not None:
        raise _duplicate(existing)
    now = clock.now()
    customer = EndCustomer(
        **data.as_dict(),
        name_key=key,
        psa_kind=psa_kind,
        psa_ref=psa_ref,
        create_key=create_key,
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )
    try:
        with db.begin_nested():
            db.add(customer)
            db.flush()
    except IntegrityError:
        # Lost a race with a concurrent submission: report what won.
        earlier = by_create_key(db, create_key) if create_key else None
        if earlier is not None:
            return earlier
        existing = _active_with_name(db, key)
        if existing is not None:
            raise _duplicate(existing) from None
        raise
    audit.record(
        db, actor=actor, entity="customer", entity_id=customer.id, action="create", changes=data.as_dict()
    )
    return customer


def _apply(
    db: Session, customer: EndCustomer, values: dict[str, object], *, actor: str, clock: Clock, action: str
) -> EndCustomer:
    before = customer.model_dump()
    for field, value in values.items():
        setattr(customer, field, value)
    changes = audit.changes_between(before, customer.model_dump(), values)
    if not changes:
        return customer
    customer.updated_at = clock.now()
    customer.updated_by = actor
    db.add(customer)
    try:
        with db.begin_nested():
            db.flush()
    except IntegrityError:
        existing = _active_with_name(db, customer.name_key, exclude_id=customer.id)
        if existing is not None:
            raise _duplicate(existing) from None
        raise
    audit.record(db, actor=actor, entity="customer", entity_id=customer.id, action=action, changes=changes)
    return customer


def update(db: Session, customer_id: int, data: CustomerInput, *, actor: str, clock: Clock) -> EndCustomer:
    customer = get(db, customer_id)
    key = name_key(data.company_name)
    if customer.archived_at is None:
        existing = _active_with_name(db, key, exclude_id=customer.id)
        if existing is not None:
            raise _duplicate(existing)
    values: dict[str, object] = {f: getattr(data, f) for f in CUSTOMER_FIELDS}
    values["name_key"] = key
    return _apply(db, customer, values, actor=actor, clock=clock, action="update")


def set_payment_terms(
    db: Session, customer_id: int, days: int | None, *, actor: str, clock: Clock
) -> EndCustomer:
    return _apply(
        db,
        get(db, customer_id),
        {"payment_terms_days": days},
        actor=actor,
        clock=clock,
        action="payment_terms",
    )


def set_email(db: Session, customer_id: int, email: str, *, actor: str, clock: Clock) -> EndCustomer:
    return _apply(db, get(db, customer_id), {"email": email}, actor=actor, clock=clock, action="email")


def archive(db: Session, customer_id: int, *, actor: str, clock: Clock) -> EndCustomer:
    customer = get(db, customer_id)
    if customer.archived_at is not None:
        return customer
    return _apply(db, customer, {"archived_at": clock.now()}, actor=actor, clock=clock, action="archive")


def restore(db: Session, customer_id: int, *, actor: str, clock: Clock) -> EndCustomer:
    customer = get(db, customer_id)
    if customer.archived_at is None:
        return customer
    existing = _active_with_name(db, customer.name_key, exclude_id=customer.id)
    if existing is not None:
        raise NotFound(
            f"Can't restore: an active customer is already called “{existing.company_name}”. "
            "Rename one first."
        )
    return _apply(db, customer, {"archived_at": None}, actor=actor, clock=clock, action="restore")


@dataclass(frozen=True)
class Page:
    customers: Sequence[EndCustomer]
    total: int
    offset: int
    limit: int

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.customers) < self.total


def list_page(
    db: Session, *, text: str = "", include_archived: bool = False, offset: int = 0, limit: int = PAGE_SIZE
) -> Page:
    query = select(EndCustomer)
    if not include_archived:
        query = query.where(col(EndCustomer.archived_at).is_(None))
    if text.strip():
        query = query.where(col(EndCustomer.name_key).contains(name_key(text), autoescape=True))
    # Two cheap queries beat one window count: with the trigram index the count touches only the
    # matches, and the page walks the name index and stops after `limit` rows.
    total = db.exec(select(func.count()).select_from(query.subquery())).one()
    ordered = query.order_by(EndCustomer.name_key, EndCustomer.id).offset(max(offset, 0)).limit(limit)
    return Page(db.exec(ordered).all(), int(total), max(offset, 0), limit)


def missing_email(db: Session, *, limit: int | None = None) -> Sequence[EndCustomer]:
    query = (
        select(EndCustomer)
        .where(
            col(EndCustomer.archived_at).is_(None),
            or_(col(EndCustomer.email).is_(None), EndCustomer.email == ""),
        )
        .order_by(EndCustomer.name_key)
    )
    return db.exec(query.limit(limit) if limit else query).all()


def count_active(db: Session) -> tuple[int, int]:
    """(active customers, of which without an e-mail)."""
    active = col(EndCustomer.archived_at).is_(None)
    no_email = or_(col(EndCustomer.email).is_(None), EndCustomer.email == "")
    total = db.exec(select(func.count()).where(active)).one()
    missing = db.exec(select(func.count()).where(active, no_email)).one()
    return int(total), int(missing)
