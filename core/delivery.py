"""E-mailing an invoice to its customer, exactly once, safely under double clicks and replicas.

The claim comes first
    Before a byte goes to the mail server the send is claimed in the database, in its own short
    transaction: a conditional `UPDATE invoice SET send_claimed_at=now, send_claim_token=<uuid>
    WHERE id=? AND sent_at IS NULL AND (send_claimed_at IS NULL OR send_claimed_at < now - 15 min)`.
    Whoever changes the row sends; a second click, a second process or a second replica finds
    the row claimed (or sent) and returns "already being sent" / "already sent" without mailing.
    The claim is released (token-checked) when the attempt ends, successfully or not.

    The claim names its process (`send_claimed_by`, host:pid). A sender that dies between claiming
    and finishing leaves its claim, and nobody can know whether the mail server accepted the
    message before it died: such a claim (its process gone, or older than `STALE_CLAIM_AFTER`, see
    `core.workers`) makes the invoice *delivery uncertain*. It is never sent again by itself: a
    person checks the mail server's log and either sends again (`takeover=True`) or records that
    it was sent (`mark_sent`). A live claim still answers "already being sent".

No lock held while rendering or talking to SMTP
    SQLite takes the write lock for a whole transaction here (`core.db`: BEGIN IMMEDIATE), and a
    PostgreSQL row lock would block `approve`/`void` for as long, so the claim, the read of what to
    render and the recording of the outcome are three separate short transactions; WeasyPrint and
    the mail server run between them with no transaction open.

Which address
    The customer's *current* e-mail (`end_customer.email`), not the snapshot on the invoice: the
    usual fix for "can't send, no e-mail" is to add the address to the customer, and that must
    take effect without regenerating the invoice. The address actually used is stored in `sent_to`.

Drafts and refusals
    Sending a draft approves it first (audited as `approve`, in the claim's transaction, so a
    refused send leaves the draft a draft). Void and paid invoices are refused; an invoice already
    sent is refused unless `resend=True`. A customer without a usable e-mail raises `NoEmail` (a
    `NotAllowed`), which carries the customer id so a caller can offer "Add e-mail".

Failures
    A `MailError` leaves the status as it was, stores the reason in `send_error`, clears the claim
    and comes back as a `SendResult` with `outcome=FAILED` and `temporary` set, so it can be retried.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from jinja2 import Environment
from sqlalchemy import case, or_, update
from sqlalchemy.engine import Engine

from core import audit, invoices, mailer, rendering, usage_billing, workers
from core.clock import BusinessClock, Clock
from core.db import session_scope
from core.errors import NotAllowed, RebillError, error_id
from core.mailer import Attachment, MailError, SmtpConfig
from models.customers import EndCustomer
from models.invoices import Invoice

log = logging.getLogger(__name__)

STALE_CLAIM_AFTER: Final = workers.STALE_AFTER
_INVOICE = Invoice.__table__  # type: ignore[attr-defined]
_ERROR_MAX: Final = 1000  # invoice.send_error length


class NoEmail(NotAllowed):
    """The customer has no (usable) e-mail address: offer to add one, then send again."""

    def __init__(self, user_message: str, *, customer_id: int, invoice_number: str) -> None:
        super().__init__(user_message)
        self.customer_id = customer_id
        self.invoice_number = invoice_number


class Outcome(StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    IN_PROGRESS = "in_progress"  # another click/process holds a live claim
    UNCERTAIN = "uncertain"  # a claim outlived its process: a person decides (send again / it was sent)
    FAILED = "failed"  # the mail server (or the network) said no; retry later
    REFUSED = "refused"  # not sendable (void, paid, no e-mail, unknown): only from the batch helpers
    SKIPPED = "skipped"  # a reminder that no longer applies (paid meanwhile)


@dataclass(frozen=True)
class SendResult:
    """What happened to one invoice (or reminder), with the sentence to show the user."""

    number: str
    outcome: Outcome
    message: str
    invoice_id: int | None = None
    sent_to: str | None = None
    message_id: str | None = None
    temporary: bool | None = None  # FAILED only: may trying again later work?
    no_email: bool = False  # REFUSED because of NoEmail: offer "Add e-mail"
    customer_id: int | None = None
    step: str | None = None  # reminders only

    @property
    def ok(self) -> bool:
        """True when the customer has (now or before) been sent the e-mail."""
        return self.outcome in (Outcome.SENT, Outcome.ALREADY_SENT)


@dataclass(frozen=True)
class SendOutcome:
    """What happened to one invoice when e-mailing it, with its customer's name: for channel
    digests and button replies, which list outcomes without reading the invoices again."""

    number: str
    customer_name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class _Claim:
    invoice_id: int
    number: str
    token: str
    to: str
    status: str  # after approving a draft
    approved_draft: bool
    resend: bool


@dataclass(frozen=True)
class Documents:
    """Everything rendered for one invoice, made with no transaction open."""

    env: Environment
    context: Mapping[str, Any]
    pdf: bytes
    usage_csv: bytes | None = None  # issue-16: the usage the invoice bills, record by record

    @property
    def number(self) -> str:
        return str(self.context["invoice"]["number"])


# Public API


def send_invoice(
    *,
    engine: Engine,
    smtp: SmtpConfig,
    invoice_ref: str | int,
    actor: str,
    clock: BusinessClock,
    resend: bool = False,
    templates_dir: Path | str | None = None,
    stale_after: timedelta = STALE_CLAIM_AFTER,
    takeover: bool = False,
) -> SendResult:
    """E-mail one invoice (HTML + text body, PDF attached) to its customer.

    `takeover` is a person's "Send again" on a delivery-uncertain invoice: it replaces the dead
    sender's claim. Without it such an invoice comes back as UNCERTAIN, unsent.

    Raises NotFound, NotAllowed (void, paid) or NoEmail when it can't be sent at all; returns a
    SendResult for everything that depends on timing or the mail server.
    """
    claimed = _claim(
        engine,
        invoice_ref,
        actor=actor,
        clock=clock,
        resend=resend,
        stale_after=stale_after,
        takeover=takeover,
    )
    if isinstance(claimed, SendResult):
        return claimed
    try:
        docs = load_documents(
            engine=engine,
            invoice_id=claimed.invoice_id,
            templates_dir=templates_dir,
            timezone=clock.timezone,
        )
        email = rendering.render_email(docs.env, docs.context)
        message = compose(smtp, docs, to=claimed.to, subject=email.subject, text=email.text, html=email.html)
        message_id = mailer.send(with_sender_name(smtp, docs), message)
    except MailError as exc:
        _record_failure(engine, claimed, exc.user_message, actor=actor, clock=clock)
        return _failed(claimed, exc)
    except BaseException as exc:
        # A template or PDF error is ours, not the mail server's: give the claim back, keep the
        # reason on the invoice, and let the caller's error handler report it with an error id.
        _record_failure(
            engine, claimed, f"Could not prepare the e-mail ({type(exc).__name__}).", actor=actor, clock=clock
        )
        raise
    _record_success(engine, claimed, message_id=message_id, actor=actor, clock=clock)
    approved = " (approved first: it was a draft)" if claimed.approved_draft else ""
    return SendResult(
        number=claimed.number,
        outcome=Outcome.SENT,
        message=f"{claimed.number} {'re-sent' if claimed.resend else 'sent'} to {claimed.to}{approved}.",
        invoice_id=claimed.invoice_id,
        sent_to=claimed.to,
        message_id=message_id,
    )


def send_many(
    *,
    engine: Engine,
    smtp: SmtpConfig,
    refs: Iterable[str | int],
    actor: str,
    clock: BusinessClock,
    resend: bool = False,
    templates_dir: Path | str | None = None,
) -> list[SendResult]:
    """For "Send all" and auto-send: each invoice on its own, one result each, whatever the others do.

    Refusals become REFUSED results (with `no_email` set for NoEmail); an unexpected error is
    logged with its traceback and becomes a FAILED result, so one bad invoice can't stop the rest.
    """
    results: list[SendResult] = []
    for ref in refs:
        try:
            results.append(
                send_invoice(
                    engine=engine,
                    smtp=smtp,
                    invoice_ref=ref,
                    actor=actor,
                    clock=clock,
                    resend=resend,
                    templates_dir=templates_dir,
                )
            )
        except NoEmail as exc:
            results.append(
                SendResult(
                    number=exc.invoice_number,
                    outcome=Outcome.REFUSED,
                    message=exc.user_message,
                    no_email=True,
                    customer_id=exc.customer_id,
                )
            )
        except RebillError as exc:
            results.append(SendResult(number=str(ref), outcome=Outcome.REFUSED, message=exc.user_message))
        except Exception:
            ref_id = error_id()
            log.exception("sending invoice %s failed unexpectedly (error id %s)", ref, ref_id)
            results.append(
                SendResult(
                    number=str(ref),
                    outcome=Outcome.FAILED,
                    message=f"{ref} was not sent: an unexpected error (id {ref_id}); see the log.",
                    temporary=False,
                )
            )
    return results


def mark_sent(*, engine: Engine, invoice_ref: str | int, actor: str, clock: Clock) -> Invoice:
    """ "It was sent": a person saw the message in the mail server's log; record it, send nothing.

    Only for an invoice whose delivery is uncertain or that is unsent; the dead claim is cleared.
    """
    now = clock.now()
    with session_scope(engine) as db:
        invoice = invoices.find(db=db, ref=invoice_ref, for_update=True)
        if invoice.sent_at is not None:
            raise NotAllowed(f"{invoice.number} is recorded as sent already.")
        if invoice.status not in invoices.OWING:
            raise NotAllowed(f"{invoice.number} is {invoice.status}; it can't be marked sent.")
        to = invoice.customer_email
        customer = db.get(EndCustomer, invoice.customer_id)
        if customer is not None and customer.email:
            to = customer.email
        invoice.status = invoices.SENT
        invoice.sent_at = now
        invoice.sent_to = (to or "")[:600] or None
        invoice.sent_by = actor[:64]
        invoice.send_error = None
        invoice.send_claimed_at = None
        invoice.send_claim_token = None
        invoice.send_claimed_by = None
        invoice.updated_at = now
        db.add(invoice)
        audit.record(
            db,
            actor=actor,
            entity=invoices.ENTITY,
            entity_id=invoice.id,
            action="marked_sent",
            changes={"to": invoice.sent_to, "why": "delivery uncertain; confirmed in the mail log"},
        )
        db.flush()
        db.expunge(invoice)
    return invoice


def load_documents(
    *,
    engine: Engine,
    invoice_id: int,
    timezone: str,
    templates_dir: Path | str | None = None,
) -> Documents:
    """Read the invoice in one short transaction, then render its PDF with none open."""
    with session_scope(engine) as db:
        invoice = invoices.get(db=db, invoice_id=invoice_id)
        context = rendering.load_context(db=db, invoice=invoice)
        usage_csv = usage_billing.detail_csv(db, invoice_id)
    env = rendering.environment(templates_dir, timezone=timezone)
    pdf = rendering.render_pdf(rendering.render_invoice_html(env, context))
    return Documents(env=env, context=context, pdf=pdf, usage_csv=usage_csv)


def compose(
    smtp: SmtpConfig, docs: Documents, *, to: str, subject: str, text: str, html: str
) -> EmailMessage:
    """The message: one-line subject, the business as sender name and Reply-To, the PDF attached.

    User data reaches headers only through `one_line` (the stdlib refuses CR/LF anyway; folding it
    here means a stray newline in a business name can't fail a send).
    """
    business = docs.context["business"]
    return mailer.build_message(
        with_sender_name(smtp, docs),
        to=to,
        subject=one_line(subject),
        text=text,
        html=html,
        attachments=(Attachment(f"{docs.number}.pdf", docs.pdf), *usage_attachment(docs)),
        reply_to=_valid_address(business.get("email")),
    )


def usage_attachment(docs: Documents) -> tuple[Attachment, ...]:
    """The usage detail CSV (sell prices only) when the invoice bills usage."""
    if docs.usage_csv is None:
        return ()
    return (Attachment(f"{docs.number}-usage.csv", docs.usage_csv, maintype="text", subtype="csv"),)


def with_sender_name(smtp: SmtpConfig, docs: Documents) -> SmtpConfig:
    """Show the business name as the sender unless the config names one."""
    name = one_line(str(docs.context["business"]["name"] or ""))
    return smtp if smtp.from_name or not name else replace(smtp, from_name=name)


def one_line(text: str) -> str:
    """Any run of whitespace (CR/LF included) as one space: safe for a header."""
    return " ".join(text.split())


def recipient(customer: EndCustomer | None, *, invoice: Invoice) -> str:
    """The customer's current e-mail, checked; NoEmail (with what to do) if there is none usable."""
    address = customer.email if customer is not None else None
    name = customer.company_name if customer is not None else invoice.customer_name
    if not address:
        raise NoEmail(
            f"{name} has no e-mail address, so {invoice.number} can't be sent: add one to the customer first.",
            customer_id=invoice.customer_id,
            invoice_number=invoice.number,
        )
    valid = _valid_address(address)
    if valid is None:
        raise NoEmail(
            f"{name}'s e-mail address {address!r} isn't valid, so {invoice.number} can't be sent: fix it first.",
            customer_id=invoice.customer_id,
            invoice_number=invoice.number,
        )
    return valid


# The three short transactions


def _claim(
    engine: Engine,
    ref: str | int,
    *,
    actor: str,
    clock: BusinessClock,
    resend: bool,
    stale_after: timedelta,
    takeover: bool = False,
) -> _Claim | SendResult:
    now = clock.now()
    with session_scope(engine) as db:
        invoice = invoices.find(db=db, ref=ref, for_update=True)
        assert invoice.id is not None
        number = invoice.number
        if invoice.status == invoices.VOID:
            raise NotAllowed(f"{number} is void; it can't be sent.")
        if invoice.status == invoices.PAID:
            raise NotAllowed(f"{number} is paid already; it isn't sent again.")
        to = recipient(db.get(EndCustomer, invoice.customer_id), invoice=invoice)
        if invoice.sent_at is not None and not resend:
            when = _when(invoice.sent_at, clock.zone)
            return SendResult(
                number=number,
                outcome=Outcome.ALREADY_SENT,
                message=f"{number} was already sent to {invoice.sent_to} on {when}; resend it to send it again.",
                invoice_id=invoice.id,
                sent_to=invoice.sent_to,
                message_id=invoice.message_id,
            )
        if invoice.send_claimed_at is not None:
            if not workers.is_gone(
                invoice.send_claimed_by, invoice.send_claimed_at, now=now, stale_after=stale_after
            ):
                return _in_progress(invoice, clock.zone)
            if not takeover:
                return _uncertain(invoice, clock.zone)
        approved_draft = invoice.status == invoices.DRAFT
        if approved_draft:
            invoices.approve(db=db, ref=invoice.id, actor=actor, clock=clock)
        token = uuid.uuid4().hex
        conditions = [
            _INVOICE.c.id == invoice.id,
            _INVOICE.c.status.in_(invoices.OWING),
            or_(
                _INVOICE.c.send_claimed_at.is_(None), _INVOICE.c.send_claim_token == invoice.send_claim_token
            ),
        ]
        if not resend:
            conditions.append(_INVOICE.c.sent_at.is_(None))
        claimed = db.execute(
            update(_INVOICE)
            .where(*conditions)
            .values(send_claimed_at=now, send_claim_token=token, send_claimed_by=workers.this_worker())
        ).rowcount
        if claimed != 1:  # the row lock makes this unreachable; the condition is the real guard
            db.rollback()
            return _in_progress(invoice, clock.zone)
        status = invoices.APPROVED if approved_draft else invoice.status
    return _Claim(invoice.id, number, token, to, status, approved_draft, resend)


def _record_success(engine: Engine, claim: _Claim, *, message_id: str, actor: str, clock: Clock) -> None:
    """Mark it sent. Unconditional on the token: the mail went, whatever happened to the claim.

    The status becomes `sent` only from approved/sent, so an invoice voided or paid while the
    e-mail was on its way keeps that status (the send is still recorded and audited).
    """
    now = clock.now()
    status = _INVOICE.c.status
    with session_scope(engine) as db:
        db.execute(
            update(_INVOICE)
            .where(_INVOICE.c.id == claim.invoice_id)
            .values(
                status=case((status.in_(invoices.OWING), invoices.SENT), else_=status),
                sent_at=now,
                sent_to=claim.to[:600],
                message_id=message_id[:255],
                sent_by=actor[:64],
                send_error=None,
                updated_at=now,
            )
        )
        _release(db, claim)
        changes: dict[str, Any] = {"to": claim.to, "message_id": message_id}
        if claim.status != invoices.SENT:
            changes["status"] = [claim.status, invoices.SENT]
        audit.record(
            db,
            actor=actor,
            entity=invoices.ENTITY,
            entity_id=claim.invoice_id,
            action="resend" if claim.resend else "send",
            changes=changes,
        )


def _record_failure(engine: Engine, claim: _Claim, error: str, *, actor: str, clock: Clock) -> None:
    """Keep the reason on the invoice and give the claim back, so the next attempt may send."""
    with session_scope(engine) as db:
        db.execute(
            update(_INVOICE)
            .where(_INVOICE.c.id == claim.invoice_id, _INVOICE.c.send_claim_token == claim.token)
            .values(send_error=error[:_ERROR_MAX], updated_at=clock.now())
        )
        _release(db, claim)
        audit.record(
            db,
            actor=actor,
            entity=invoices.ENTITY,
            entity_id=claim.invoice_id,
            action="send_failed",
            changes={"to": claim.to, "error": error[:_ERROR_MAX]},
        )


def _release(db: Any, claim: _Claim) -> None:
    """Clear the claim only if it is still ours (a stale one may have been taken over)."""
    db.execute(
        update(_INVOICE)
        .where(_INVOICE.c.id == claim.invoice_id, _INVOICE.c.send_claim_token == claim.token)
        .values(send_claimed_at=None, send_claim_token=None, send_claimed_by=None)
    )


# Helpers


def _failed(claim: _Claim, exc: MailError) -> SendResult:
    advice = (
        "This is usually temporary: try again later."
        if exc.temporary
        else "Fix the problem, then send it again."
    )
    return SendResult(
        number=claim.number,
        outcome=Outcome.FAILED,
        message=f"{claim.number} was not sent: {exc.user_message} {advice}",
        invoice_id=claim.invoice_id,
        sent_to=claim.to,
        temporary=exc.temporary,
    )


def _in_progress(invoice: Invoice, zone: ZoneInfo) -> SendResult:
    started = _when(invoice.send_claimed_at, zone, with_time=True) if invoice.send_claimed_at else "just now"
    return SendResult(
        number=invoice.number,
        outcome=Outcome.IN_PROGRESS,
        message=f"{invoice.number} is already being sent (started {started}); check again in a minute.",
        invoice_id=invoice.id,
    )


UNCERTAIN_ADVICE: Final = "delivery uncertain: check your mail server's log"


def _uncertain(invoice: Invoice, zone: ZoneInfo) -> SendResult:
    started = _when(invoice.send_claimed_at, zone, with_time=True) if invoice.send_claimed_at else "?"
    return SendResult(
        number=invoice.number,
        outcome=Outcome.UNCERTAIN,
        message=(
            f"{invoice.number}: {UNCERTAIN_ADVICE} (a send started {started} never finished). "
            "If it arrived, choose It was sent; if not, Send again."
        ),
        invoice_id=invoice.id,
    )


def _when(moment: datetime, zone: ZoneInfo, *, with_time: bool = False) -> str:
    local = moment.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M") if with_time else local.date().isoformat()


def _valid_address(address: object) -> str | None:
    if not isinstance(address, str) or not address.strip():
        return None
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None
