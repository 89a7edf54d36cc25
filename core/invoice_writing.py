"""How an invoice is built from a customer's billing inputs and written; the bill run's engine.

Building
    An invoice's lines come only from `core.calculation.bill_lines` over the same rows
    `core.charges.billing_inputs` reads (every recurring charge and service of the customer and its
    UNINVOICED once-off items), converted by the same `core.charges` functions. `load_inputs` is
    the batched equivalent used by the bill run (three queries per batch of customers instead of
    four per customer); a test checks the two agree.

Writing
    Every writer of invoices locks the numbering series row first (`core.numbering.lock_series`)
    and only then reads what it bills, so concurrent writers queue on one lock, always read fresh
    data and never deadlock. Once-off items are claimed in the invoice's own transaction with
    `UPDATE ... WHERE invoice_id IS NULL`; if fewer rows change than expected another invoice got
    there first and `ClaimConflict` aborts the transaction, so an item is never billed twice.

Services excluded from the next invoice
    A service's `exclude_next_invoice` flag applies to the next invoice generated (or
    regenerated) for its customer, or to the bill run of a period that finds nothing else to bill.
    Whenever an invoice's lines are written the flag is cleared and an `invoice_exclusion` row
    remembers the period, so regenerating, reissuing or re-running that period leaves the service
    off again rather than billing it after all.

Dates
    The invoice for period P is issued on the 1st of P (a calendar date in the billing time zone);
    it is due `payment_terms_days` later: the customer's override if set, else the default terms.
"""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ARRAY, Integer, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlmodel import Session

from core import (
    audit,
    billing_settings,
    bulk_insert,
    id_lists,
    ledger,
    licence_feed,
    numbering,
    payment_terms,
    usage_billing,
)
from core.calculation import Line, Period, Totals, totals
from core.charges import BillingInputs, bill_from, charge_input, once_off_input, service_input
from core.clock import Clock
from core.errors import NotAllowed, RebillError
from core.invoice_states import APPROVED, CREDIT_NOTE, DRAFT, ENTITY, INVOICE, VOID
from models.charges import OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceExclusion, InvoiceLine
from models.system import AuditLog, BillingSettings

_INVOICE = Invoice.__table__  # type: ignore[attr-defined]
_LINE = InvoiceLine.__table__  # type: ignore[attr-defined]
_ITEM = OnceOffItem.__table__  # type: ignore[attr-defined]
_CHARGE = RecurringCharge.__table__  # type: ignore[attr-defined]
_SERVICE = Service.__table__  # type: ignore[attr-defined]
_CUSTOMER = EndCustomer.__table__  # type: ignore[attr-defined]
_EXCLUSION = InvoiceExclusion.__table__  # type: ignore[attr-defined]
_AUDIT = AuditLog.__table__  # type: ignore[attr-defined]

# The columns `core.charges.charge_input` & co. read (plus the owner), so the bill run does not
# fetch and convert audit columns it never looks at. Rows are handed over as named tuples: reading
# an attribute of one is a fraction of the cost of reading it from a SQLAlchemy `Row`, and
# `load_inputs` reads ~10 per charge, for every charge of the book.
_CHARGE_INPUT: Final = tuple(
    _CHARGE.c[name]
    for name in (
        "id",
        "customer_id",
        "description",
        "unit_price",
        "quantity",
        "frequency",
        "effective_from",
        "end_date",
        "taxable",
        "service_id",
        "unit_cost",  # issue-16
        "quantity_feed",  # issue-16
    )
)
_SERVICE_INPUT: Final = tuple(
    _SERVICE.c[name]
    for name in ("id", "customer_id", "status", "start_date", "end_date", "exclude_next_invoice")
)
_ITEM_INPUT: Final = tuple(
    _ITEM.c[name]
    for name in (
        "id",
        "customer_id",
        "description",
        "unit_price",
        "quantity",
        "item_date",
        "taxable",
        "unit_cost",  # issue-16
    )
)
_ChargeRow = namedtuple("_ChargeRow", [column.name for column in _CHARGE_INPUT])  # type: ignore[misc]
_ServiceRow = namedtuple("_ServiceRow", [column.name for column in _SERVICE_INPUT])  # type: ignore[misc]
_ItemRow = namedtuple("_ItemRow", [column.name for column in _ITEM_INPUT])  # type: ignore[misc]


class ClaimConflict(RebillError):
    """Another transaction changed what this one was about to bill; roll back and try again."""


@dataclass(frozen=True)
class Draft:
    """What one customer's invoice for a period says, computed but not yet written."""

    customer_id: int
    customer_name: str
    customer_email: str | None
    period: Period
    issue_date: date
    due_date: date
    payment_terms_days: int
    lines: tuple[Line, ...]
    totals: Totals
    flagged_service_ids: tuple[int, ...]  # live exclude_next_invoice flags this invoice consumes
    held: tuple[Line, ...] = ()  # catch-up beyond the horizon, not on this document
    credits_invoice_id: int | None = None
    reason: str | None = None
    usage_ids: tuple[int, ...] = ()  # issue-16: usage records this invoice bills

    @property
    def held_total(self) -> Decimal | None:
        """What the held catch-up would bill (None: nothing held), kept on the invoice for the month close."""
        return sum((line.amount for line in self.held), Decimal(0)) if self.held else None

    @property
    def once_off_ids(self) -> list[int]:
        return [line.source_id for line in self.lines if line.kind == "once_off"]

    @property
    def doc_type(self) -> str:
        """Credits that exceed the charges make a credit note, never a negative invoice."""
        return CREDIT_NOTE if self.totals.total < 0 or self.credits_invoice_id else INVOICE


@dataclass(frozen=True)
class Inputs:
    """One customer's billing inputs for a period, plus the live exclusion flags they apply."""

    billing: BillingInputs
    flagged_service_ids: tuple[int, ...]
    usage: usage_billing.UsageBill = usage_billing.NO_USAGE  # issue-16


# Building


def require_configured(settings: BillingSettings) -> None:
    """Refuse to bill before set-up has named the business, terms and numbering."""
    missing = billing_settings.missing(settings)
    if missing:
        names = ", ".join(billing_settings.REQUIRED[name] for name in missing)
        raise NotAllowed(
            f"Billing isn't set up yet ({names} missing): finish the set-up with `/rebill settings` in "
            "Slack, or `rebill-bot settings set` on the command line."
        )


def load_customers(db: Session, customer_ids: Sequence[int]) -> dict[int, Row[Any]]:
    """The snapshot fields of these customers (a light Core read: no ORM objects to keep)."""
    if not customer_ids:
        return {}
    rows = db.execute(
        select(
            _CUSTOMER.c.id,
            _CUSTOMER.c.company_name,
            _CUSTOMER.c.email,
            _CUSTOMER.c.payment_terms_days,
            _CUSTOMER.c.archived_at,
        ).where(id_lists.one_of(db, _CUSTOMER.c.id, customer_ids))
    ).all()
    return {row.id: row for row in rows}


def load_inputs(
    db: Session,
    customer_ids: Sequence[int],
    *,
    period: Period,
    include_items_of: Sequence[int] = (),
) -> dict[int, Inputs]:
    # `include_items_of` (drafts being regenerated) also leaves those drafts' lines out of the ledger.
    """Billing inputs for many customers at once: `core.charges.billing_inputs`, batched.

    `include_items_of` lists invoices (drafts being regenerated) whose once-off items count as
    uninvoiced: they are released and claimed again when the draft is rewritten.
    Services excluded from `period` (an `invoice_exclusion` row) or flagged now are marked
    excluded; the flagged ones are reported so the writer can clear the flags.
    """
    if not customer_ids:
        return {}
    ids = list(customer_ids)
    charge_rows = [
        _ChargeRow._make(values)
        for values in db.execute(
            select(*_CHARGE_INPUT)
            .where(id_lists.one_of(db, _CHARGE.c.customer_id, ids))
            .order_by(_CHARGE.c.id)
        ).all()  # one fetch, not a fetch per row: ~2,000 rows a page
    ]
    versions = ledger.versions_of_customers(db, ids)
    charges: dict[int, list[Any]] = defaultdict(list)
    for row in charge_rows:
        charges[row.customer_id].append(charge_input(row, versions.get(row.id, ())))  # type: ignore[arg-type]
    coverage = ledger.coverage_of(db, ids, ignore_invoices=include_items_of)
    waived = ledger.waived_of(db, ids)
    start = ledger.first_period(db)
    excluded = {sid for cid in ids for sid, periods in waived[cid].items() if period in periods}
    services: dict[int, list[Any]] = defaultdict(list)
    flagged: dict[int, list[int]] = defaultdict(list)
    for values in db.execute(
        select(*_SERVICE_INPUT)
        .where(id_lists.one_of(db, _SERVICE.c.customer_id, ids))
        .order_by(_SERVICE.c.id)
    ).all():
        row = _ServiceRow._make(values)
        service = service_input(row)  # type: ignore[arg-type]
        if row.exclude_next_invoice:
            flagged[row.customer_id].append(row.id)
        if row.id in excluded:
            service = replace(service, exclude_next_invoice=True)
        services[row.customer_id].append(service)
    uninvoiced = _ITEM.c.invoice_id.is_(None)
    if include_items_of:
        uninvoiced = or_(uninvoiced, _ITEM.c.invoice_id.in_(list(include_items_of)))
    items: dict[int, list[Any]] = defaultdict(list)
    for values in db.execute(
        select(*_ITEM_INPUT)
        .where(id_lists.one_of(db, _ITEM.c.customer_id, ids), uninvoiced)
        .order_by(_ITEM.c.item_date, _ITEM.c.id)
    ).all():
        row = _ItemRow._make(values)
        items[row.customer_id].append(once_off_input(row))  # type: ignore[arg-type]
    # issue-16 (usage and licence feeds): fed quantities replace the charges' own; usage in arrears.
    mode = (db.get(BillingSettings, 1) or BillingSettings()).billing_mode  # a read: never creates the row
    fed = [c for cid in ids for c in charges[cid] if c.quantity_feed]
    counts = (
        licence_feed.latest_counts(
            db, (c.quantity_feed for c in fed), month=licence_feed.service_month(period, mode)
        )
        if fed
        else {}
    )
    usage = usage_billing.usage_for(db, ids, period=period, include_invoices=include_items_of)
    return {
        cid: Inputs(
            billing=BillingInputs(
                charges=licence_feed.apply(charges[cid], counts) if counts else tuple(charges[cid]),
                services=tuple(services[cid]),
                once_offs=tuple(items[cid]),
                coverage=coverage[cid],
                waived=waived[cid],
                ledger_from=start,
            ),
            flagged_service_ids=tuple(flagged[cid]),
            usage=usage.get(cid, usage_billing.NO_USAGE),
        )
        for cid in ids
    }


def build_draft(
    customer: Row[Any] | EndCustomer,
    inputs: Inputs,
    *,
    period: Period,
    settings: BillingSettings,
    include_old: bool = False,
) -> Draft | None:
    """The document `customer` gets for `period`, or None when there is nothing to bill.

    Catch-up older than the horizon is `held` on the draft, not billed, unless `include_old`. A
    draft whose total is negative (credits exceed charges) is written as a credit note.
    """
    result = bill_from(
        inputs.billing,
        period=period,
        mode=settings.billing_mode,
        horizon_months=settings.back_billing_months,
        include_old=include_old,
    )
    lines = list(result.lines)
    lines += inputs.usage.lines  # issue-16: usage, always in arrears
    if not lines:
        return None
    terms = payment_terms.effective_days(customer.payment_terms_days, settings.default_payment_terms_days)
    issue = period.first_day
    assert customer.id is not None
    return Draft(
        customer_id=customer.id,
        customer_name=customer.company_name,
        customer_email=customer.email or None,
        period=period,
        issue_date=issue,
        due_date=issue + timedelta(days=terms),
        payment_terms_days=terms,
        lines=tuple(lines),
        totals=totals(lines, settings.tax_rate),
        flagged_service_ids=inputs.flagged_service_ids,
        held=result.held,
        usage_ids=inputs.usage.record_ids,
    )


def live_invoices(db: Session, customer_ids: Sequence[int], *, period: Period) -> dict[int, Row[Any]]:
    """The live (not void) invoice of each customer for `period`, if any: (id, number, status)."""
    if not customer_ids:
        return {}
    rows = db.execute(
        select(_INVOICE.c.id, _INVOICE.c.customer_id, _INVOICE.c.number, _INVOICE.c.status).where(
            id_lists.one_of(db, _INVOICE.c.customer_id, customer_ids),
            _INVOICE.c.period == str(period),
            _INVOICE.c.status != VOID,
            _INVOICE.c.doc_type == INVOICE,
        )
    ).all()
    return {row.customer_id: row for row in rows}


# Writing


@dataclass(frozen=True)
class Written:
    id: int
    number: str
    series: str
    sequence: int
    customer_id: int
    total: Decimal


def write_new(
    db: Session,
    drafts: Sequence[Draft],
    *,
    settings: BillingSettings,
    actor: str,
    clock: Clock,
    replaces: Mapping[int, int] | None = None,
    status: str | None = None,
) -> list[Written]:
    """Number and insert `drafts` with their lines, claim their once-off items, audit them.

    Runs in the caller's transaction (which must commit or roll back all of it). Raises
    `IntegrityError` if a live invoice for one of the (customer, period) slots already exists, and
    `ClaimConflict` if a once-off item was claimed meanwhile.
    """
    if not drafts:
        return []
    notes = [d for d in drafts if d.doc_type == CREDIT_NOTE]
    invoice_numbers = iter(numbering.allocate(db, settings=settings, count=len(drafts) - len(notes)))
    note_numbers = iter(
        numbering.allocate(
            db, settings=settings, count=len(notes), series=numbering.credit_note_series(settings)
        )
        if notes
        else ()
    )
    numbers = [next(note_numbers if d.doc_type == CREDIT_NOTE else invoice_numbers) for d in drafts]
    now = clock.now()
    status = status or (APPROVED if settings.auto_approve else DRAFT)
    rows = [
        {
            "customer_id": d.customer_id,
            "period": str(d.period),
            "doc_type": d.doc_type,
            "credits_invoice_id": d.credits_invoice_id,
            "reason": d.reason,
            "number": n.number,
            "series": n.series,
            "sequence": n.sequence,
            "issue_date": d.issue_date,
            "due_date": d.due_date,
            "status": status,
            "currency": settings.currency,
            "subtotal": d.totals.subtotal,
            "tax": d.totals.tax,
            "total": d.totals.total,
            "tax_rate": settings.tax_rate,
            "tax_rounding": d.totals.tax_rounding,
            "held_catch_up": d.held_total,
            "payment_terms_days": d.payment_terms_days,
            "customer_name": d.customer_name,
            "customer_email": d.customer_email,
            "replaces_invoice_id": (replaces or {}).get(d.customer_id),
            "approved_at": now if status == APPROVED else None,
            "approved_by": actor if status == APPROVED else None,
            "created_at": now,
            "created_by": actor,
            "updated_at": now,
        }
        for d, n in zip(drafts, numbers, strict=True)
    ]
    ids = _insert_invoices(db, rows)
    _insert_lines(db, zip(ids, drafts, strict=True))
    _claim_items(db, {item: inv for inv, d in zip(ids, drafts, strict=True) for item in d.once_off_ids})
    _claim_usage(db, list(zip(ids, drafts, strict=True)))  # issue-16
    consume_exclusions(
        db,
        {d.customer_id: d.flagged_service_ids for d in drafts},
        period=drafts[0].period,
        actor=actor,
        clock=clock,
    )
    bulk_insert.insert_rows(
        db,
        _AUDIT,
        [
            {
                "at": now,
                "actor": actor,
                "entity": ENTITY,
                "entity_id": str(inv),
                "action": "create",
                "changes": {
                    "number": row["number"],
                    "customer_id": row["customer_id"],
                    "period": row["period"],
                    "status": row["status"],
                    "total": str(row["total"]),
                    **({"doc_type": row["doc_type"]} if row["doc_type"] != INVOICE else {}),
                    **(
                        {"replaces_invoice_id": row["replaces_invoice_id"]}
                        if row["replaces_invoice_id"]
                        else {}
                    ),
                },
            }
            for inv, row in zip(ids, rows, strict=True)
        ],
    )
    return [
        Written(
            id=inv,
            number=row["number"],
            series=row["series"],
            sequence=row["sequence"],
            customer_id=row["customer_id"],
            total=row["total"],
        )
        for inv, row in zip(ids, rows, strict=True)
    ]


def rewrite_draft(
    db: Session, invoice_id: int, draft: Draft, *, settings: BillingSettings, actor: str, clock: Clock
) -> Written:
    """Replace a draft's lines and totals with `draft`, keeping its number (regeneration).

    The draft's once-off items are released and the ones `draft` bills claimed again, in this
    transaction. Refuses (ClaimConflict) if the invoice stopped being a draft meanwhile.
    """
    now = clock.now()
    before = db.execute(
        select(
            _INVOICE.c.number, _INVOICE.c.series, _INVOICE.c.sequence, _INVOICE.c.total, _INVOICE.c.due_date
        ).where(_INVOICE.c.id == invoice_id)
    ).one()
    changed = db.execute(
        update(_INVOICE)
        .where(_INVOICE.c.id == invoice_id, _INVOICE.c.status == DRAFT)
        .values(
            subtotal=draft.totals.subtotal,
            tax=draft.totals.tax,
            total=draft.totals.total,
            tax_rate=settings.tax_rate,
            tax_rounding=draft.totals.tax_rounding,
            held_catch_up=draft.held_total,
            currency=settings.currency,
            issue_date=draft.issue_date,
            due_date=draft.due_date,
            payment_terms_days=draft.payment_terms_days,
            customer_name=draft.customer_name,
            customer_email=draft.customer_email,
            updated_at=now,
        )
    ).rowcount
    if changed != 1:
        raise ClaimConflict(f"{before.number} is no longer a draft; it was not regenerated.")
    db.execute(update(_ITEM).where(_ITEM.c.invoice_id == invoice_id).values(invoice_id=None))
    usage_billing.release(db, invoice_id)  # issue-16
    db.execute(delete(_LINE).where(_LINE.c.invoice_id == invoice_id))
    _insert_lines(db, [(invoice_id, draft)])
    _claim_items(db, dict.fromkeys(draft.once_off_ids, invoice_id))
    _claim_usage(db, [(invoice_id, draft)])  # issue-16
    consume_exclusions(
        db, {draft.customer_id: draft.flagged_service_ids}, period=draft.period, actor=actor, clock=clock
    )
    changes = audit.changes_between(
        {"total": before.total, "due_date": before.due_date},
        {"total": draft.totals.total, "due_date": draft.due_date},
        ("total", "due_date"),
    )
    audit.record(db, actor=actor, entity=ENTITY, entity_id=invoice_id, action="regenerate", changes=changes)
    return Written(
        id=invoice_id,
        number=before.number,
        series=before.series,
        sequence=before.sequence,
        customer_id=draft.customer_id,
        total=draft.totals.total,
    )


def flagged_services(db: Session, customer_ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    """Services of these customers still flagged `exclude_next_invoice`, by customer."""
    if not customer_ids:
        return {}
    found: dict[int, list[int]] = defaultdict(list)
    rows = db.execute(
        select(_SERVICE.c.customer_id, _SERVICE.c.id).where(
            _SERVICE.c.customer_id.in_(list(customer_ids)), _SERVICE.c.exclude_next_invoice.is_(True)
        )
    )
    for customer_id, service_id in rows:
        found[customer_id].append(service_id)
    return {cid: tuple(ids) for cid, ids in found.items()}


def consume_exclusions(
    db: Session, flagged: Mapping[int, Sequence[int]], *, period: Period, actor: str, clock: Clock
) -> int:
    """Remember that flagged services were left off `period`, and clear their one-shot flags."""
    pairs = [(cid, sid) for cid, sids in flagged.items() for sid in sids]
    if not pairs:
        return 0
    now = clock.now()
    known = set(
        db.execute(
            select(_EXCLUSION.c.service_id).where(
                _EXCLUSION.c.service_id.in_([s for _, s in pairs]), _EXCLUSION.c.period == str(period)
            )
        ).scalars()
    )
    fresh = [(c, s) for c, s in pairs if s not in known]
    if fresh:
        db.execute(
            insert(_EXCLUSION),
            [
                {
                    "customer_id": c,
                    "service_id": s,
                    "period": str(period),
                    "created_at": now,
                    "created_by": actor,
                }
                for c, s in fresh
            ],
        )
    db.execute(
        update(_SERVICE)
        .where(_SERVICE.c.id.in_([s for _, s in pairs]))
        .values(exclude_next_invoice=False, updated_at=now, updated_by=actor)
    )
    for _, service_id in pairs:
        audit.record(
            db,
            actor=actor,
            entity="service",
            entity_id=service_id,
            action="excluded_from_invoice",
            changes={"period": str(period), "exclude_next_invoice": [True, False]},
        )
    return len(pairs)


def _insert_invoices(db: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert invoice rows; their ids, in the order of `rows`.

    Not `INSERT ... RETURNING` of the whole page: on PostgreSQL that is rendered as one statement
    with a parameter for every cell (27 an invoice), built, parsed and bound afresh for each page,
    ~3 times as long as writing the rows (bench: 2.6 s of a 10,000-customer run); on SQLite, which
    does not promise RETURNING rows in order, as one INSERT per invoice. So on PostgreSQL the ids
    are drawn from the table's own sequence first (one round trip) and the rows written with COPY;
    on SQLite the rows are written with one executemany and their ids read back by their numbers,
    which are unique (and were allocated to this transaction).
    """
    if db.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(_INVOICE.name, _INVOICE.c.id.name)
        ids = list(
            db.execute(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
            ).scalars()
        )
        bulk_insert.insert_rows(
            db, _INVOICE, [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
        return ids
    bulk_insert.insert_rows(db, _INVOICE, rows)
    numbers = [row["number"] for row in rows]
    found = db.execute(select(_INVOICE.c.number, _INVOICE.c.id).where(_INVOICE.c.number.in_(numbers))).all()
    by_number = {number: id_ for number, id_ in found}
    return [by_number[number] for number in numbers]


def _insert_lines(db: Session, invoices: Iterable[tuple[int, Draft]]) -> None:
    rows = [
        {
            "invoice_id": invoice_id,
            "position": position,
            "kind": line.kind,
            "source_id": line.source_id,
            "description": line.description[:300],
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "unit_cost": line.unit_cost,  # issue-16: internal, for margins
            "cost": line.cost,
            "service_id": line.service_id,
            "taxable": line.taxable,
            "period_start": line.period_start,
            "period_end": line.period_end,
            "charge_id": line.charge_id,
            "charge_version": line.charge_version,
            "reason": line.reason[:200] if line.reason else None,
            "tax": tax,
            "credits_line_id": line.credits_line_id,
        }
        for invoice_id, draft in invoices
        for position, (line, tax) in enumerate(
            zip(draft.lines, draft.totals.line_taxes or [None] * len(draft.lines), strict=True), start=1
        )
    ]
    bulk_insert.insert_rows(db, _LINE, rows)


def _claim_items(db: Session, claims: Mapping[int, int]) -> None:
    """Point each once-off item at its invoice, only if no invoice has it yet (one statement).

    The row count is the number of items claimed: fewer than asked means another invoice got one.
    On PostgreSQL the (item, invoice) pairs go as two arrays joined in one UPDATE (an executemany
    there is one UPDATE per item); elsewhere as one executemany, whose row count is summed over the
    parameter sets.
    """
    if not claims:
        return
    if db.get_bind().dialect.name == "postgresql":
        pairs = (
            func.unnest(
                bindparam(None, list(claims), type_=ARRAY(Integer)),
                bindparam(None, list(claims.values()), type_=ARRAY(Integer)),
            )
            .table_valued("item_id", "claim_for")
            .render_derived(name="claim")
        )
        claimed = db.execute(
            update(_ITEM)
            .where(_ITEM.c.id == pairs.c.item_id, _ITEM.c.invoice_id.is_(None))
            .values(invoice_id=pairs.c.claim_for)
        ).rowcount
    else:
        claimed = db.execute(
            update(_ITEM)
            .where(_ITEM.c.id == bindparam("item_id"), _ITEM.c.invoice_id.is_(None))
            .values(invoice_id=bindparam("claim_for")),
            [{"item_id": item, "claim_for": invoice} for item, invoice in claims.items()],
        ).rowcount
    if claimed != len(claims):
        raise ClaimConflict("A once-off item was invoiced or removed meanwhile; the invoice was not written.")


def _claim_usage(db: Session, invoices: Iterable[tuple[int, Draft]]) -> None:
    """issue-16: claim usage records like once-off items (`core.usage_billing.claim`)."""
    claims = [
        usage_billing.Claim(inv, d.customer_id, usage_billing.last_usage_day(d.period), d.usage_ids)
        for inv, d in invoices
    ]
    if not usage_billing.claim(db, claims):
        raise ClaimConflict("A usage record was invoiced meanwhile; the invoice was not written.")
