"""Invoices: finding them and moving them through their life. Building and writing them is
`core.invoice_writing`; the statuses are `core.invoice_states`.

Life cycle
    draft → approved → sent → paid, and anything not paid → void. A void invoice keeps its number
    (numbers are never reused) and frees the (customer, period) slot; its once-off items are
    released so the next invoice for that customer (usually its reissue) bills them again.
    Regenerating a draft keeps its number; reissuing voids the old invoice and writes a new one
    with a new number that points back at it (`replaces_invoice_id`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import Session, col

from core import audit, billing_settings, four_eyes, numbering, usage_billing
from core.calculation import Period, line_taxes
from core.clock import Clock
from core.errors import NotAllowed, NotFound
from core.invoice_states import (
    APPROVED,
    CREDIT_NOTE,
    CREDITABLE,
    DRAFT,
    ENTITY,
    FILTERS,
    INVOICE,
    OVERDUE,
    OWING,
    PAID,
    SENT,
    STATUSES,
    VOID,
)
from core.invoice_writing import Draft, build_draft, load_inputs, require_configured, rewrite_draft, write_new
from core.text import ascii_digits
from models.charges import OnceOffItem, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine
from models.system import BillingSettings

__all__ = ["APPROVED", "DRAFT", "FILTERS", "OVERDUE", "OWING", "PAID", "SENT", "STATUSES", "VOID"]


@dataclass(frozen=True)
class Detail:
    invoice: Invoice
    lines: list[InvoiceLine]


# Reading


def get(*, db: Session, invoice_id: int) -> Invoice:
    invoice = db.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"There is no invoice with id {invoice_id}.")
    return invoice


def find(*, db: Session, ref: str | int, for_update: bool = False) -> Invoice:
    """By number ("INV-00003", any case) or id; `for_update` locks it against concurrent changes."""
    text = str(ref).strip()
    query = select(Invoice).where(func.upper(Invoice.number) == text.upper())
    if ascii_digits(text):
        query = select(Invoice).where(
            or_(func.upper(Invoice.number) == text.upper(), Invoice.id == int(text))
        )
        query = query.order_by(func.upper(Invoice.number) != text.upper())
    if for_update:
        query = query.with_for_update()
    invoice = db.execute(query.execution_options(populate_existing=True)).scalars().first()
    if invoice is None:
        raise NotFound(f"There is no invoice {text}.")
    return invoice


def lines_of(*, db: Session, invoice_id: int) -> list[InvoiceLine]:
    query = (
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(col(InvoiceLine.position))
    )
    return list(db.execute(query).scalars())


def line_tax_amounts(invoice: Invoice, lines: Sequence[InvoiceLine]) -> list[Decimal]:
    """Each line's GST as the accounting system must record it to arrive at this document's GST.

    Documents written since migration 0012 store it per line; older ones (rounded once per
    invoice) get it shared out by `core.calculation.line_taxes`, which adds up to the stored GST.
    The export and the Xero push both send these amounts.
    """
    if lines and all(line.tax is not None for line in lines):
        return [line.tax for line in lines if line.tax is not None]
    return line_taxes([(line.amount, line.taxable) for line in lines], invoice.tax_rate, invoice.tax_rounding)


def detail(*, db: Session, ref: str | int) -> Detail:
    invoice = find(db=db, ref=ref)
    assert invoice.id is not None
    return Detail(invoice=invoice, lines=lines_of(db=db, invoice_id=invoice.id))


def is_overdue(invoice: Invoice, today: date) -> bool:
    """Owed (approved or sent, not paid) and past its due date."""
    return invoice.status in OWING and invoice.due_date < today and invoice.doc_type == INVOICE


def status_label(invoice: Invoice, today: date) -> str:
    """The stored status, with ", overdue" added when it is owed past its due date."""
    return f"{invoice.status}, {OVERDUE}" if is_overdue(invoice, today) else invoice.status


def list_invoices(
    *,
    db: Session,
    period: Period | str | None = None,
    status: str | None = None,
    today: date | None = None,
    customer_id: int | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[Invoice]:
    """Invoices by number; `status` may be any stored status or "overdue" (needs `today`)."""
    query = _filtered(select(Invoice), period=period, status=status, today=today, customer_id=customer_id)
    if newest_first:
        query = query.order_by(col(Invoice.series).desc(), col(Invoice.sequence).desc())
    else:
        query = query.order_by(col(Invoice.series), col(Invoice.sequence))
    if limit is not None:
        query = query.limit(limit)
    return list(db.execute(query).scalars())


def count_invoices(
    *, db: Session, status: str | None = None, today: date | None = None, customer_id: int | None = None
) -> int:
    """How many `list_invoices` would return, counted by the database (lists show a page of them)."""
    query = _filtered(
        select(func.count()).select_from(Invoice), status=status, today=today, customer_id=customer_id
    )
    return int(db.execute(query).scalar_one())


def latest_of_customer(*, db: Session, customer_id: int, limit: int) -> list[Invoice]:
    """A customer's most recently written invoices and credit notes, newest first."""
    query = select(Invoice).where(Invoice.customer_id == customer_id).order_by(col(Invoice.id).desc())
    return list(db.execute(query.limit(limit)).scalars())


def numbers_of(*, db: Session, invoice_ids: Collection[int]) -> dict[int, str]:
    """{invoice id: its number}, e.g. for once-off items showing which invoice billed them."""
    if not invoice_ids:
        return {}
    rows = db.execute(select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(invoice_ids))).all()
    return {row[0]: row[1] for row in rows}


def _filtered(
    query: Any,
    *,
    period: Period | str | None = None,
    status: str | None = None,
    today: date | None = None,
    customer_id: int | None = None,
) -> Any:
    if period is not None:
        query = query.where(Invoice.period == str(period))
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if status is not None:
        if status not in FILTERS:
            raise NotAllowed(f"Unknown status {status!r}: use one of {', '.join(FILTERS)}.")
        if status == OVERDUE:
            if today is None:
                raise ValueError("listing overdue invoices needs today's date")
            query = query.where(
                col(Invoice.status).in_(OWING), Invoice.due_date < today, Invoice.doc_type == INVOICE
            )
        else:
            query = query.where(Invoice.status == status)
    return query


# Life cycle


def approve(*, db: Session, ref: str | int, actor: str, clock: Clock) -> Invoice:
    """draft → approved. Approving an approved invoice again is a no-op (a double click)."""
    invoice = find(db=db, ref=ref, for_update=True)
    if invoice.status == APPROVED:
        return invoice
    if invoice.status != DRAFT:
        raise NotAllowed(f"{invoice.number} is {invoice.status}; only a draft can be approved.")
    four_eyes.check(db, invoice, actor=actor)
    now = clock.now()
    return _set(
        db, invoice, {"status": APPROVED, "approved_at": now, "approved_by": actor}, actor, "approve", now
    )


def mark_paid(
    *, db: Session, ref: str | int, actor: str, clock: Clock, paid_at: datetime | None = None
) -> Invoice:
    """approved/sent → paid. Marking a paid invoice paid again is a no-op."""
    invoice = find(db=db, ref=ref, for_update=True)
    if invoice.status == PAID:
        return invoice
    if invoice.status == DRAFT:
        raise NotAllowed(f"{invoice.number} is still a draft; approve it before marking it paid.")
    if invoice.doc_type != INVOICE:
        raise NotAllowed(f"{invoice.number} is a credit note; only an invoice is paid.")
    if invoice.status not in OWING:
        raise NotAllowed(f"{invoice.number} is {invoice.status}; it can't be marked paid.")
    now = clock.now()
    return _set(db, invoice, {"status": PAID, "paid_at": paid_at or now}, actor, "mark_paid", now)


def void(*, db: Session, ref: str | int, actor: str, clock: Clock, reason: str | None = None) -> Invoice:
    """A draft or approved document → void. It keeps its number; its once-off items and the days
    its lines billed (the ledger's coverage) are released.

    Voiding a void invoice is a no-op. A sent or paid invoice is in the customer's books: it is
    corrected with a credit note (`core.credit_notes`), never voided.
    """
    invoice = find(db=db, ref=ref, for_update=True)
    if invoice.status == VOID:
        return invoice
    if invoice.status in CREDITABLE:
        raise NotAllowed(
            f"{invoice.number} is {invoice.status}; it can't be voided. Issue a credit note instead."
        )
    now = clock.now()
    # ORM-enabled update, so item objects already in the session see the release too.
    db.execute(update(OnceOffItem).where(col(OnceOffItem.invoice_id) == invoice.id).values(invoice_id=None))
    usage_billing.release(db, invoice.id)  # issue-16: its usage is billed again on the next invoice
    extra = {"reason": reason} if reason else {}
    return _set(db, invoice, {"status": VOID, "voided_at": now}, actor, "void", now, extra=extra)


def reissue(*, db: Session, ref: str | int, actor: str, clock: Clock) -> Invoice:
    """Void an invoice and write a new one for the same customer and period with a NEW number.

    The lines are recomputed from the customer's current charges (that is the point of a reissue:
    fix a charge, then reissue). All or nothing: if there is nothing to bill any more, or the
    invoice can't be voided, nothing changes. A second click (the series lock serialises it
    behind the first) finds the replacement and says so, naming it.
    """
    with db.begin_nested():
        settings = billing_settings.load(db)
        require_configured(settings)
        numbering.lock_series(db, settings=settings)
        current = find(db=db, ref=ref, for_update=True)
        if current.status == VOID:
            replacement = (
                db.execute(
                    select(Invoice).where(col(Invoice.replaces_invoice_id) == current.id).order_by(Invoice.id)
                )
                .scalars()
                .first()
            )
            if replacement is not None:
                raise NotAllowed(f"{current.number} was already reissued as {replacement.number}.")
        old = void(db=db, ref=ref, actor=actor, clock=clock, reason="reissued")
        assert old.id is not None
        period = Period.parse(old.period)
        draft = _draft_for(db, old.customer_id, period=period, settings=settings)
        if draft is None:
            raise NotAllowed(
                f"{old.number} can't be reissued: {old.customer_name} has nothing to bill for {period} now."
            )
        written = write_new(
            db, [draft], settings=settings, actor=actor, clock=clock, replaces={draft.customer_id: old.id}
        )
    _expire_bulk_updated(db)
    return get(db=db, invoice_id=written[0].id)


def regenerate(*, db: Session, ref: str | int, actor: str, clock: Clock) -> Invoice:
    """Recompute a draft's lines from the customer's current charges, keeping its number."""
    with db.begin_nested():
        settings = billing_settings.load(db)
        require_configured(settings)
        numbering.lock_series(db, settings=settings)
        invoice = find(db=db, ref=ref, for_update=True)
        if invoice.status != DRAFT:
            raise NotAllowed(f"{invoice.number} is {invoice.status}; only a draft can be regenerated.")
        assert invoice.id is not None
        period = Period.parse(invoice.period)
        draft = _draft_for(db, invoice.customer_id, period=period, settings=settings, items_of=invoice.id)
        if draft is None:
            raise NotAllowed(
                f"{invoice.customer_name} has nothing to bill for {period} any more; void {invoice.number} instead."
            )
        if draft.doc_type == CREDIT_NOTE:
            raise NotAllowed(
                f"{invoice.customer_name}'s credits now exceed its charges: void {invoice.number} and run the "
                "bill run again to issue a credit note."
            )
        rewrite_draft(db, invoice.id, draft, settings=settings, actor=actor, clock=clock)
    _expire_bulk_updated(db)
    db.refresh(invoice)
    return invoice


def _expire_bulk_updated(db: Session) -> None:
    """Core UPDATEs bypass the session, so reload item and service objects the caller holds."""
    for obj in list(db.identity_map.values()):
        if isinstance(obj, OnceOffItem | Service):
            db.expire(obj)


def _draft_for(
    db: Session, customer_id: int, *, period: Period, settings: BillingSettings, items_of: int | None = None
) -> Draft | None:
    customer = db.get(EndCustomer, customer_id)
    if customer is None:
        raise NotFound(f"There is no end customer with id {customer_id}.")
    inputs = load_inputs(db, [customer_id], period=period, include_items_of=[items_of] if items_of else [])
    return build_draft(customer, inputs[customer_id], period=period, settings=settings)


def _set(
    db: Session,
    invoice: Invoice,
    values: Mapping[str, Any],
    actor: str,
    action: str,
    now: datetime,
    *,
    extra: Mapping[str, Any] | None = None,
) -> Invoice:
    changes = audit.changes_between({"status": invoice.status}, {"status": values["status"]}, ("status",))
    for name, value in values.items():
        setattr(invoice, name, value)
    invoice.updated_at = now
    db.add(invoice)
    audit.record(
        db,
        actor=actor,
        entity=ENTITY,
        entity_id=invoice.id,
        action=action,
        changes={**changes, **(extra or {})},
    )
    db.flush()
    return invoice
