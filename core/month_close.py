"""The month close, one use case: bill run → auto-approve → exceptions → auto-send → one report.

The scheduled job, the Slack Run button and `rebill-bot close` all call `close_month`, so "closing
December" means the same thing wherever it starts. This module never talks to Slack: it returns a
`CloseReport`, built from the *stored* invoice states after sending, which the callers show.

What can race, and why it is safe
    Several replicas (and a person pressing Run) may close the same month at once. The bill run is
    idempotent on its own (`core.billrun`). The rest is done by whoever inserts the month's row in
    `month_close` (INSERT ... ON CONFLICT DO NOTHING, committed alone): that process applies the
    automatic holds and does the auto-send; the others only read. A holder that died mid-close
    (its process gone, `core.workers`) is taken over by the next caller: every step after the
    claim is itself idempotent (holds are set once, each e-mail has its own claim, and a send that
    was in flight becomes "delivery uncertain" rather than being repeated).

Auto-approve and exceptions
    With auto-approve on, the bill run writes invoices approved. An invoice with an exception is
    then *held* by the close (`held_by="system:month_close"`), so auto-send and Send all skip it
    until a person approves it: exceptions come before sending.

Four eyes
    With `four_eyes` on, whoever ran the close can't approve its invoices, by any path
    (`core.four_eyes`, checked by `core.invoices.approve` too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core import (
    audit,
    billing_settings,
    close_exceptions,
    four_eyes,
    invoice_changes,
    invoices,
    workers,
    xero_sync,
)
from core.billrun import BillRunResult, run_bill
from core.calculation import Period
from core.clock import BusinessClock, Clock
from core.close_exceptions import CloseException, Rule, RuleInput
from core.db import session_scope
from core.delivery import SendResult, send_many
from core.errors import NotAllowed
from core.invoice_changes import InvoiceChanges
from core.mailer import SmtpConfig
from core.money import DEFAULT_CURRENCY, ZERO
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine
from models.month_close import MonthClose
from models.xero import XeroConnection

SYSTEM_HOLD = "system:month_close"
_INVOICE = Invoice.__table__  # type: ignore[attr-defined]


class State(StrEnum):
    """Where one invoice stands in the close, read from what is stored (one rule, here)."""

    SENT = "sent"
    FAILED = "failed"  # the mail server said no: `send_error` has its words
    NO_EMAIL = "no_email"
    UNCERTAIN = "uncertain"  # a send claim outlived its process: a person decides
    SENDING = "sending"
    HELD = "held"
    AWAITING_APPROVAL = "awaiting_approval"  # draft
    READY = "ready"  # approved, not held, not sent yet
    PAID = "paid"


def state_of(invoice: Invoice, customer: EndCustomer | None, *, now: datetime) -> State:
    if invoice.status == invoices.PAID:
        return State.PAID
    if invoice.sent_at is not None:
        return State.SENT
    if invoice.send_claimed_at is not None:
        gone = workers.is_gone(
            invoice.send_claimed_by, invoice.send_claimed_at, now=now, stale_after=workers.STALE_AFTER
        )
        return State.UNCERTAIN if gone else State.SENDING
    if invoice.held_at is not None:
        return State.HELD
    if customer is None or not customer.email:
        return State.NO_EMAIL
    if invoice.send_error:
        return State.FAILED
    if invoice.status == invoices.DRAFT:
        return State.AWAITING_APPROVAL
    return State.READY


@dataclass(frozen=True)
class Entry:
    """One invoice in the report."""

    invoice_id: int
    number: str
    customer_id: int
    customer_name: str
    email: str | None
    total: Decimal
    due_date: Any
    state: State
    error: str | None
    approved_by: str | None
    sent_by: str | None
    held_by: str | None
    held_reason: str | None
    exceptions: tuple[CloseException, ...]
    changes: InvoiceChanges


@dataclass
class CloseReport:
    period: str
    run_by: str
    ran_late: bool
    scheduled_for: datetime | None
    finished: bool
    did_close: bool  # this call held the month's claim (it did the holds and the sending)
    billed: BillRunResult | None
    entries: list[Entry] = field(default_factory=list)
    sent_now: list[SendResult] = field(default_factory=list)
    xero: tuple[int, int] | None = None  # (pushed, not pushed) when Xero is connected
    currency: str = DEFAULT_CURRENCY  # the business's, for the report's total

    @property
    def total(self) -> Decimal:
        return sum((e.total for e in self.entries), ZERO)

    def count(self, state: State) -> int:
        return sum(1 for e in self.entries if e.state == state)

    @property
    def counts(self) -> Counter[State]:
        return Counter(e.state for e in self.entries)

    @property
    def exceptions(self) -> list[Entry]:
        return [e for e in self.entries if e.exceptions and e.state not in (State.SENT, State.PAID)]

    @property
    def approved_by(self) -> list[str]:
        return sorted({e.approved_by for e in self.entries if e.approved_by})

    @property
    def sent_by(self) -> list[str]:
        return sorted({e.sent_by for e in self.entries if e.sent_by})

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "run_by": self.run_by,
            "ran_late": self.ran_late,
            "total": f"{self.total:.2f}",
            "counts": {state.value: n for state, n in sorted(self.counts.items())},
            "approved_by": self.approved_by,
            "sent_by": self.sent_by,
            "xero": None if self.xero is None else {"pushed": self.xero[0], "not_pushed": self.xero[1]},
            "invoices": [
                {
                    "number": e.number,
                    "customer": e.customer_name,
                    "total": f"{e.total:.2f}",
                    "state": e.state.value,
                    "error": e.error,
                    "exceptions": [x.code for x in e.exceptions],
                    "changes": e.changes.as_dict(),
                }
                for e in self.entries
            ],
        }


def close_month(
    *,
    engine: Engine,
    period: Period,
    actor: str,
    clock: BusinessClock,
    smtp: SmtpConfig | None = None,
    send: bool | None = None,
    psa_configured: bool = False,
    scheduled_for: datetime | None = None,
    ran_late: bool = False,
    rules: Sequence[Rule] = close_exceptions.RULES,
    templates_dir: Path | str | None = None,
    include_old_catch_up: bool = False,
) -> CloseReport:
    """Close `period`; `send=None` follows the auto-send setting, True/False overrides it.
    `include_old_catch_up` also bills unbilled days beyond the back-billing horizon (a person's
    decision: the scheduler never sets it)."""
    billed = run_bill(
        engine=engine, period=period, actor=actor, clock=clock, include_old_catch_up=include_old_catch_up
    )
    did_close = claim_month(
        engine, str(period), actor=actor, clock=clock, scheduled_for=scheduled_for, ran_late=ran_late
    )
    sent_now: list[SendResult] = []
    if did_close:
        try:
            sent_now = _hold_and_send(
                engine,
                period,
                actor=actor,
                clock=clock,
                smtp=smtp,
                send=send,
                psa_configured=psa_configured,
                rules=rules,
                templates_dir=templates_dir,
            )
        except BaseException:
            _release(engine, str(period))  # the next call (a retry, catch-up) does it again
            raise
        _finish(engine, str(period), clock=clock)
    report = build_report(
        engine,
        str(period),
        clock=clock,
        psa_configured=psa_configured,
        rules=rules,
    )
    report.billed, report.did_close, report.sent_now = billed, did_close, sent_now
    return report


def _hold_and_send(
    engine: Engine,
    period: Period,
    *,
    actor: str,
    clock: BusinessClock,
    smtp: SmtpConfig | None,
    send: bool | None,
    psa_configured: bool,
    rules: Sequence[Rule],
    templates_dir: Path | str | None,
) -> list[SendResult]:
    """What only the month's holder does: hold exceptions (auto-approve), send (auto-send / --send)."""
    report = build_report(
        engine,
        str(period),
        clock=clock,
        psa_configured=psa_configured,
        rules=rules,
    )
    with session_scope(engine) as db:
        settings = billing_settings.load(db)
        auto_approve, auto_send = settings.auto_approve, settings.auto_send
    if auto_approve:
        hold_exceptions(engine, report.entries, clock=clock)
    if not (send if send is not None else auto_send):
        return []
    return send_approved(
        engine=engine,
        period=str(period),
        actor=actor if send else "system:auto_send",
        clock=clock,
        smtp=smtp,
        templates_dir=templates_dir,
    )


def _release(engine: Engine, period: str) -> None:
    """Give back an unfinished claim of ours after a failure (a dead process's is taken over instead)."""
    with session_scope(engine) as db:
        row = db.get(MonthClose, period)
        if row is not None and row.finished_at is None and row.claimed_by == workers.this_worker():
            db.delete(row)


def claim_month(
    engine: Engine,
    period: str,
    *,
    actor: str,
    clock: Clock,
    scheduled_for: datetime | None = None,
    ran_late: bool = False,
) -> bool:
    """True if this process now holds the month (it inserted the row, or took over a dead holder's)."""
    me = workers.this_worker()
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(MonthClose)
        .values(
            period=period,
            run_by=actor[:64],
            claimed_by=me,
            claimed_at=clock.now(),
            scheduled_for=scheduled_for,
            ran_late=ran_late,
        )
        .on_conflict_do_nothing(index_elements=["period"])
        .returning(MonthClose.period)  # type: ignore[arg-type]
    )
    with session_scope(engine) as db:
        if db.execute(statement).first() is not None:
            return True
        row = db.exec(select(MonthClose).where(MonthClose.period == period).with_for_update()).one()
        if row.finished_at is not None or row.claimed_by == me:
            return False
        # No time limit here: a close may take long; only a holder whose process is gone is replaced.
        if not workers.is_gone(row.claimed_by, None, now=clock.now(), stale_after=workers.STALE_AFTER):
            return False
        row.claimed_by = me
        row.claimed_at = clock.now()
        db.add(row)
        return True


def closed_periods(*, db: Session) -> set[str]:
    """Every period with a month close started ("YYYY-MM"): the scheduler makes up the others."""
    return set(db.execute(select(MonthClose.period)).scalars())


def _finish(engine: Engine, period: str, *, clock: Clock) -> None:
    with session_scope(engine) as db:
        row = db.get(MonthClose, period)
        if row is not None:
            row.finished_at = clock.now()
            db.add(row)


def hold_exceptions(engine: Engine, entries: Sequence[Entry], *, clock: Clock) -> None:
    """Hold each auto-approved, unsent invoice that has an exception (once: a person's decision stands)."""
    ids = [
        e.invoice_id
        for e in entries
        if e.exceptions and e.state in (State.READY, State.NO_EMAIL, State.FAILED)
    ]
    if not ids:
        return
    with session_scope(engine) as db:
        for entry in entries:
            if entry.invoice_id in ids:
                db.execute(
                    update(_INVOICE)
                    .where(
                        _INVOICE.c.id == entry.invoice_id,
                        _INVOICE.c.held_at.is_(None),
                        _INVOICE.c.sent_at.is_(None),
                        _INVOICE.c.status == invoices.APPROVED,
                        _INVOICE.c.approved_by.like("system:%")
                        | _INVOICE.c.approved_by.is_(None)
                        | (_INVOICE.c.approved_by == _INVOICE.c.created_by),
                    )
                    .values(
                        held_at=clock.now(),
                        held_by=SYSTEM_HOLD,
                        held_reason="; ".join(x.message for x in entry.exceptions)[:300],
                    )
                )


def send_approved(
    *,
    engine: Engine,
    period: str,
    actor: str,
    clock: BusinessClock,
    smtp: SmtpConfig | None,
    templates_dir: Path | str | None = None,
) -> list[SendResult]:
    """E-mail the period's approved, unheld, unsent invoices (each send claims its own invoice).

    Without SMTP nothing is attempted; the report then shows them as ready, not sent.
    """
    with session_scope(engine, write=False) as db:
        ready = db.exec(
            select(Invoice.number)
            .where(
                Invoice.period == period,
                Invoice.status == invoices.APPROVED,
                col(Invoice.held_at).is_(None),
                col(Invoice.sent_at).is_(None),
                col(Invoice.send_claimed_at).is_(None),
            )
            .order_by(col(Invoice.id))
        ).all()
        archived = set(
            db.exec(
                select(Invoice.number)
                .join(EndCustomer, col(EndCustomer.id) == Invoice.customer_id)
                .where(Invoice.period == period, col(EndCustomer.archived_at).is_not(None))
            ).all()
        )
    refs = [n for n in ready if n not in archived]
    if smtp is None or not refs:
        return []
    with session_scope(engine) as db:
        row = db.get(MonthClose, period)
        if row is not None and not actor.startswith("system:"):
            row.send_all_by = actor[:64]
            db.add(row)
    return send_many(
        engine=engine,
        smtp=smtp,
        refs=refs,
        actor=actor,
        clock=clock,
        templates_dir=templates_dir,
    )


def held_count(engine: Engine, period: str) -> int:
    with session_scope(engine, write=False) as db:
        return int(
            db.exec(
                select(func.count())
                .select_from(Invoice)
                .where(
                    Invoice.period == period,
                    col(Invoice.held_at).is_not(None),
                    col(Invoice.sent_at).is_(None),
                    Invoice.status != invoices.VOID,
                )
            ).one()
        )


def approve(*, engine: Engine, invoice_id: int, actor: str, clock: Clock) -> Invoice:
    """A person approves one invoice for sending: a draft becomes approved, a hold is lifted.

    Refused under the four-eyes rule when `actor` ran this month's close.
    """
    with session_scope(engine) as db:
        invoice = invoices.find(db=db, ref=invoice_id, for_update=True)
        four_eyes.check(db, invoice, actor=actor)
        if invoice.status == invoices.DRAFT:
            invoice = invoices.approve(db=db, ref=invoice.id or 0, actor=actor, clock=clock)
        elif invoice.status != invoices.APPROVED:
            raise NotAllowed(f"{invoice.number} is {invoice.status}; there is nothing to approve.")
        else:
            invoice.approved_by, invoice.approved_at = actor[:64], clock.now()
        invoice.held_at = invoice.held_by = invoice.held_reason = None
        db.add(invoice)
        _audit(db, invoice, actor, "approve_for_sending")
        db.flush()
        db.expunge(invoice)
    return invoice


def hold(*, engine: Engine, invoice_id: int, actor: str, clock: Clock, reason: str = "held") -> Invoice:
    """Keep one invoice out of Send all and auto-send until someone approves it."""
    with session_scope(engine) as db:
        invoice = invoices.find(db=db, ref=invoice_id, for_update=True)
        if invoice.sent_at is not None or invoice.status not in (invoices.DRAFT, invoices.APPROVED):
            raise NotAllowed(f"{invoice.number} is {invoice.status}; it can't be held.")
        invoice.held_at, invoice.held_by, invoice.held_reason = clock.now(), actor[:64], reason[:300]
        db.add(invoice)
        _audit(db, invoice, actor, "hold")
        db.flush()
        db.expunge(invoice)
    return invoice


def _audit(db: Session, invoice: Invoice, actor: str, action: str) -> None:
    audit.record(db, actor=actor, entity=invoices.ENTITY, entity_id=invoice.id, action=action, changes={})


def build_report(
    engine: Engine,
    period: str,
    *,
    clock: BusinessClock,
    psa_configured: bool = False,
    rules: Sequence[Rule] = close_exceptions.RULES,
) -> CloseReport:
    """The report from what is stored now: each invoice's state, exceptions and changes."""
    now = clock.now()
    with session_scope(engine) as db:  # billing_settings.load writes the settings row if missing
        row = db.get(MonthClose, period)
        settings = billing_settings.load(db)
        found = [i for i in invoices.list_invoices(db=db, period=period) if i.status != invoices.VOID]
        found.sort(key=lambda i: i.id or 0)
        ids = [i.customer_id for i in found]
        people = {c.id: c for c in db.exec(select(EndCustomer).where(col(EndCustomer.id).in_(ids))).all()}
        previous = previous_invoices(db, period, ids)
        wanted = [i.id for i in found] + [p.id for p in previous.values()]
        lines: dict[int, list[InvoiceLine]] = {}
        for line in db.exec(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id).in_(wanted))
            .order_by(col(InvoiceLine.position))
        ).all():
            lines.setdefault(line.invoice_id, []).append(line)
        entries = []
        for invoice in found:
            assert invoice.id is not None
            customer = people.get(invoice.customer_id)
            before = previous.get(invoice.customer_id)
            own = lines.get(invoice.id, [])
            data = RuleInput(invoice, customer, before, own, settings, psa_configured)
            entries.append(
                Entry(
                    invoice_id=invoice.id,
                    number=invoice.number,
                    customer_id=invoice.customer_id,
                    customer_name=invoice.customer_name,
                    email=customer.email if customer else None,
                    total=invoice.total,
                    due_date=invoice.due_date,
                    state=state_of(invoice, customer, now=now),
                    error=invoice.send_error,
                    approved_by=invoice.approved_by,
                    sent_by=invoice.sent_by,
                    held_by=invoice.held_by,
                    held_reason=invoice.held_reason,
                    exceptions=tuple(close_exceptions.check(data, rules)),
                    changes=invoice_changes.compare(
                        invoice, own, before, lines.get(before.id or 0, []) if before else []
                    ),
                )
            )
        xero = None
        if db.exec(select(XeroConnection)).first() is not None:
            xero = xero_sync.counts(db, [i.id for i in found if i.id is not None])
    scheduled = row.scheduled_for if row else None
    if scheduled is not None:
        scheduled = scheduled.astimezone(clock.zone)
    return CloseReport(
        period=period,
        run_by=row.run_by if row else "",
        ran_late=row.ran_late if row else False,
        scheduled_for=scheduled,  # in the business's time zone
        finished=bool(row and row.finished_at),
        did_close=False,
        billed=None,
        entries=entries,
        xero=xero,
        currency=settings.currency,
    )


def previous_invoices(db: Session, period: str, customer_ids: Sequence[int]) -> dict[int, Invoice]:
    """Each customer's latest invoice before `period` (not void)."""
    if not customer_ids:
        return {}
    latest = (
        select(Invoice.customer_id, func.max(Invoice.period).label("period"))
        .where(
            col(Invoice.customer_id).in_(customer_ids),
            Invoice.period < period,
            Invoice.status != invoices.VOID,
        )
        .group_by(col(Invoice.customer_id))
        .subquery()
    )
    rows = db.exec(
        select(Invoice)
        .join(
            latest,
            (col(Invoice.customer_id) == latest.c.customer_id) & (col(Invoice.period) == latest.c.period),
        )
        .where(Invoice.status != invoices.VOID)
    ).all()
    return {row.customer_id: row for row in rows}


def changes_for(db: Session, invoice: Invoice) -> InvoiceChanges:
    """The "what changed" comparison for one invoice (invoice view, `invoice show --json`)."""
    assert invoice.id is not None
    before = previous_invoices(db, invoice.period, [invoice.customer_id]).get(invoice.customer_id)
    return invoice_changes.compare(
        invoice,
        invoices.lines_of(db=db, invoice_id=invoice.id),
        before,
        invoices.lines_of(db=db, invoice_id=before.id) if before and before.id else [],
    )
