"""Overdue invoices and payment reminders on the provider's dunning schedule.

The schedule
    A reminder 4 days before the due date, then 1, 7 and 14 days after it (`STEPS`). A step is
    due on its day and for `CATCH_UP_DAYS - 1` days after (a job that missed a weekend still
    sends it); once a later step's day arrives the earlier one is superseded, never sent late.
    A step whose day came before the invoice was e-mailed is skipped (an invoice sent two days
    before its due date gets no "due in 4 days" reminder the next morning).

Who is reminded
    Only invoices actually e-mailed (status `sent`), unpaid and not void, whose customer is not
    archived and has an e-mail address (the customer's current one, as for the invoice itself).

Exactly once
    `send_reminder` claims the key (kind="payment_reminder", subject=invoice number,
    occasion=step) with `core.notifications.claim` before it talks to the mail server, so two
    schedulers or replicas send each reminder at most once. A mail failure releases the key so the
    next run retries; a crash mid-send keeps it (a duplicate dunning e-mail is worse than a missed
    one, and the notification row shows it). `reminders_due` leaves out keys already claimed, so
    a rerun on the same day selects nothing.

Overdue alerts
    `newly_overdue` lists invoices that became overdue within the last few days; the caller claims
    `overdue_alert_key(invoice)` per invoice so each one is announced once even if the daily job
    runs twice, or misses a day.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core import audit, invoices, mailer, notifications, rendering
from core.clock import BusinessClock
from core.db import session_scope
from core.delivery import (
    NoEmail,
    Outcome,
    SendResult,
    compose,
    load_documents,
    recipient,
    with_sender_name,
)
from core.errors import RebillError, error_id
from core.invoice_states import INVOICE
from core.mailer import MailError, SmtpConfig
from models.customers import EndCustomer
from models.invoices import Invoice
from models.system import Notification

log = logging.getLogger(__name__)

KIND: Final = "payment_reminder"
OVERDUE_ALERT_KIND: Final = "invoice_overdue"
# (step, days relative to the due date): the provider's own dunning schedule.
STEPS: Final[tuple[tuple[str, int], ...]] = (
    ("before-4", -4),
    ("after-1", 1),
    ("after-7", 7),
    ("after-14", 14),
)
STEP_OFFSETS: Final = dict(STEPS)
CATCH_UP_DAYS: Final = 3
REMINDER_HTML_TEMPLATE: Final = "reminder.html"
REMINDER_TEXT_TEMPLATE: Final = "reminder.txt"


# Selection


def step_for(due_date: date, today: date) -> str | None:
    """The reminder step that is due today for an invoice due on `due_date`, if any (pure)."""
    offset = (today - due_date).days
    reached = [(step, days) for step, days in STEPS if days <= offset]
    if not reached:
        return None
    step, days = reached[-1]
    return step if offset - days < CATCH_UP_DAYS else None


def step_day(due_date: date, step: str) -> date:
    return due_date + timedelta(days=STEP_OFFSETS[step])


def overdue_invoices(db: Session, *, today: date) -> list[Invoice]:
    """Owed (approved or sent), not paid, due before `today`: oldest due first."""
    query = (
        select(Invoice)
        .where(col(Invoice.status).in_(invoices.OWING), Invoice.doc_type == INVOICE, Invoice.due_date < today)
        .order_by(col(Invoice.due_date), col(Invoice.series), col(Invoice.sequence))
    )
    return list(db.execute(query).scalars())


def newly_overdue(db: Session, *, today: date, within_days: int = 7) -> list[Invoice]:
    """Owed invoices that became overdue in the last `within_days` days (due in [today-N, today-1]).

    A window, not just "due yesterday", so a day the job didn't run is made up; callers claim
    `overdue_alert_key` per invoice so the window never announces one twice. Older overdue ones
    are left out so turning the alert on doesn't flood the channel with history.
    """
    query = (
        select(Invoice)
        .where(
            col(Invoice.status).in_(invoices.OWING),
            Invoice.doc_type == INVOICE,
            Invoice.due_date < today,
            Invoice.due_date >= today - timedelta(days=within_days),
        )
        .order_by(col(Invoice.due_date), col(Invoice.series), col(Invoice.sequence))
    )
    return list(db.execute(query).scalars())


def overdue_alert_key(invoice: Invoice) -> dict[str, str]:
    """The `core.notifications.claim` key for "this invoice became overdue" (a reissue is a new one)."""
    return {"kind": OVERDUE_ALERT_KIND, "subject": invoice.number, "occasion": invoice.due_date.isoformat()}


def reminders_due(db: Session, *, today: date, zone: ZoneInfo) -> list[tuple[Invoice, str]]:
    """(invoice, step) pairs to send today, leaving out those already claimed. `zone` (the business
    clock's) decides on which calendar day an invoice was e-mailed."""
    last_offset = STEPS[-1][1] + CATCH_UP_DAYS - 1
    first_offset = STEPS[0][1]
    query = (
        select(Invoice)
        .join(EndCustomer, col(EndCustomer.id) == Invoice.customer_id)
        .where(
            Invoice.status == invoices.SENT,
            col(EndCustomer.email).is_not(None),
            EndCustomer.email != "",
            col(EndCustomer.archived_at).is_(None),
            Invoice.due_date >= today - timedelta(days=last_offset),
            Invoice.due_date <= today - timedelta(days=first_offset),
        )
        .order_by(col(Invoice.due_date), col(Invoice.series), col(Invoice.sequence))
    )
    candidates: list[tuple[Invoice, str]] = []
    for invoice in db.execute(query).scalars():
        step = step_for(invoice.due_date, today)
        if step is None:
            continue
        sent_on = invoice.sent_at.astimezone(zone).date() if invoice.sent_at else None
        if sent_on is not None and sent_on >= step_day(invoice.due_date, step):
            continue  # e-mailed on or after the step's day: this reminder would be noise
        candidates.append((invoice, step))
    claimed = _claimed_keys(db, [invoice.number for invoice, _ in candidates])
    return [(invoice, step) for invoice, step in candidates if (invoice.number, step) not in claimed]


def _claimed_keys(db: Session, numbers: Sequence[str]) -> set[tuple[str, str]]:
    if not numbers:
        return set()
    rows = db.execute(
        select(Notification.subject, Notification.occasion).where(
            Notification.kind == KIND, col(Notification.subject).in_(numbers)
        )
    )
    return {(row.subject, row.occasion) for row in rows}


# Sending


def send_reminder(
    *,
    engine: Engine,
    smtp: SmtpConfig,
    invoice_id: int,
    step: str,
    clock: BusinessClock,
    claimed_by: str,
    templates_dir: Path | str | None = None,
) -> SendResult:
    """E-mail one payment reminder, at most once per (invoice, step) across every process.

    Returns SKIPPED if the invoice was paid or voided since it was selected, ALREADY_SENT if the
    key was claimed already, FAILED (key released, retried next run) on a mail error. Raises
    NoEmail if the customer's address was removed meanwhile.
    """
    if step not in STEP_OFFSETS:
        raise ValueError(f"unknown reminder step {step!r}")
    with session_scope(engine) as db:
        invoice = invoices.get(db=db, invoice_id=invoice_id)
        number, due_date, status = invoice.number, invoice.due_date, invoice.status
        to = recipient(db.get(EndCustomer, invoice.customer_id), invoice=invoice)
    if status != invoices.SENT:
        return SendResult(
            number=number,
            outcome=Outcome.SKIPPED,
            message=f"{number} is {status}; no {step} reminder.",
            invoice_id=invoice_id,
            step=step,
        )
    held = notifications.hold(
        engine, kind=KIND, subject=number, occasion=step, claimed_by=claimed_by, clock=clock
    )
    if held is None:
        return SendResult(
            number=number,
            outcome=Outcome.ALREADY_SENT,
            message=f"The {step} reminder for {number} was already sent.",
            invoice_id=invoice_id,
            step=step,
        )
    today = clock.today()
    try:
        with held:  # a mail failure gives the key back: the next run retries
            docs = load_documents(
                engine=engine,
                invoice_id=invoice_id,
                templates_dir=templates_dir,
                timezone=clock.timezone,
            )
            days = (today - due_date).days
            context: dict[str, Any] = {
                **docs.context,
                "reminder": {
                    "step": step,
                    "overdue": days > 0,
                    "days_overdue": max(days, 0),
                    "days_until_due": max(-days, 0),
                    "today": today,
                },
            }
            html = rendering.render(docs.env, REMINDER_HTML_TEMPLATE, context)
            text = rendering.render(docs.env, REMINDER_TEXT_TEMPLATE, context)
            message = compose(smtp, docs, to=to, subject=reminder_subject(number, days), text=text, html=html)
            message_id = mailer.send(with_sender_name(smtp, docs), message)
    except MailError as exc:
        advice = "It will be tried again on the next run." if exc.temporary else "Fix the problem first."
        return SendResult(
            number=number,
            outcome=Outcome.FAILED,
            message=f"The {step} reminder for {number} was not sent: {exc.user_message} {advice}",
            invoice_id=invoice_id,
            sent_to=to,
            temporary=exc.temporary,
            step=step,
        )
    with session_scope(engine) as db:
        audit.record(
            db,
            actor=claimed_by[:64],
            entity=invoices.ENTITY,
            entity_id=invoice_id,
            action="reminder",
            changes={"step": step, "to": to, "message_id": message_id},
        )
    return SendResult(
        number=number,
        outcome=Outcome.SENT,
        message=f"Sent the {step} reminder for {number} to {to}.",
        invoice_id=invoice_id,
        sent_to=to,
        message_id=message_id,
        step=step,
    )


def send_reminders(
    *,
    engine: Engine,
    smtp: SmtpConfig,
    clock: BusinessClock,
    claimed_by: str,
    templates_dir: Path | str | None = None,
) -> list[SendResult]:
    """The daily job's body: every reminder due today, each independent of the others."""
    with session_scope(engine) as db:
        due = [
            (invoice.id, invoice.number, step)
            for invoice, step in reminders_due(db, today=clock.today(), zone=clock.zone)
        ]
    results: list[SendResult] = []
    for invoice_id, number, step in due:
        assert invoice_id is not None
        try:
            results.append(
                send_reminder(
                    engine=engine,
                    smtp=smtp,
                    invoice_id=invoice_id,
                    step=step,
                    clock=clock,
                    claimed_by=claimed_by,
                    templates_dir=templates_dir,
                )
            )
        except NoEmail as exc:
            results.append(
                SendResult(
                    number=number,
                    outcome=Outcome.REFUSED,
                    message=exc.user_message,
                    invoice_id=invoice_id,
                    no_email=True,
                    customer_id=exc.customer_id,
                    step=step,
                )
            )
        except RebillError as exc:
            results.append(
                SendResult(number=number, outcome=Outcome.REFUSED, message=exc.user_message, step=step)
            )
        except Exception:
            failure = error_id()
            log.exception("the %s reminder for %s failed unexpectedly (error id %s)", step, number, failure)
            results.append(
                SendResult(
                    number=number,
                    outcome=Outcome.FAILED,
                    message=f"The {step} reminder for {number} failed (error id {failure}); see the log.",
                    invoice_id=invoice_id,
                    temporary=False,
                    step=step,
                )
            )
    return results


def reminder_subject(number: str, days_after_due: int) -> str:
    if days_after_due > 0:
        return (
            f"Overdue: invoice {number} was due {days_after_due} day{'' if days_after_due == 1 else 's'} ago"
        )
    if days_after_due == 0:
        return f"Reminder: invoice {number} is due today"
    days = -days_after_due
    return f"Reminder: invoice {number} is due in {days} day{'' if days == 1 else 's'}"
