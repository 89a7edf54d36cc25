"""Pushing our documents to Xero (contacts: `core.xero_contacts`; payments back:
`core.xero_payments`). No Slack here: the CLI, the scheduled job and the Slack button all call `push`.

Concurrency
    Each document has one `xero_document` row. A pusher claims rows with one UPDATE ... WHERE the
    row is unclaimed (or its claim is stale), so two replicas pushing at once split the work and
    never send the same document twice. Each batch carries an `Idempotency-Key` made of the
    documents' ids and versions, so a retry after a lost answer is replayed by Xero, not repeated;
    a document whose request timed out is marked `outcome_unknown` and looked up by number before
    it is created again (belt and braces if Xero forgot the key). Failures never lose a document:
    it stays "failed" with the reason and the next run takes it again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator
from collections.abc import Mapping as TypingMapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, outerjoin, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from core import invoices as invoice_service
from core.calculation import Period
from core.clock import Clock
from core.db import session_scope
from core.errors import NotAllowed
from core.invoice_states import APPROVED, DRAFT, PAID, SENT, VOID
from core.xero_batches import batch_key, chunks, in_parallel
from core.xero_contacts import ContactProblem, resolve_contacts
from core.xero_documents import COLLECTION, CREDIT_NOTE, INVOICE, Document, Mapping, invoice_document, to_xero
from core.xero_settings import load_settings, mapping_of
from core.xero_tokens import load_connection
from integrations.xero import BATCH_SIZE, XeroClient, XeroValidation, item_errors
from integrations.xero_auth import XeroError
from models.invoices import Invoice, InvoiceLine
from models.xero import XeroDocument

PENDING, PUSHED, FAILED, EXCEPTION, VOIDED = "pending", "pushed", "failed", "exception", "voided"
CLAIM_TTL = timedelta(minutes=15)
PUSHABLE = (APPROVED, SENT, PAID)


def status_line(doc: XeroDocument | None) -> str:
    """What a person sees against an invoice: one place for the wording of each state."""
    if doc is None or doc.state == PENDING:
        return "not pushed yet"
    if doc.state == PUSHED:
        if doc.amount_paid and doc.amount_due and doc.amount_due > 0:
            return f"pushed; part-paid in Xero, {doc.amount_due} still due"
        return f"pushed ({(doc.xero_status or '').lower() or 'in Xero'})"
    if doc.state == VOIDED:
        return "voided in Xero"
    prefix = "not pushed" if doc.state == FAILED else "needs a person"
    return f"{prefix}: {doc.error}"


# Claiming


def _ensure_rows(db: Session, docs: Iterable[tuple[str, int, str]], *, clock: Clock) -> None:
    now = clock.now()
    rows = [{"kind": k, "local_id": i, "number": n, "state": PENDING, "updated_at": now} for k, i, n in docs]
    if not rows:
        return
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.execute(insert(XeroDocument).values(rows).on_conflict_do_nothing(index_elements=["kind", "local_id"]))


def _claim(
    engine: Engine, kind: str, local_ids: list[int], states: tuple[str, ...], clock: Clock
) -> tuple[str, list[XeroDocument]]:
    token = uuid.uuid4().hex
    now = clock.now()
    with session_scope(engine) as db:
        for chunk in chunks(local_ids, 500):
            db.execute(
                update(XeroDocument)
                .where(
                    col(XeroDocument.kind) == kind,
                    col(XeroDocument.local_id).in_(chunk),
                    col(XeroDocument.state).in_(states),
                    or_(
                        col(XeroDocument.claim_token).is_(None),
                        col(XeroDocument.claimed_at) < now - CLAIM_TTL,
                    ),
                )
                .values(claim_token=token, claimed_at=now)
            )
        rows = db.execute(select(XeroDocument).where(col(XeroDocument.claim_token) == token)).scalars().all()
    return token, list(rows)


def _release(engine: Engine, token: str) -> None:
    with session_scope(engine) as db:
        db.execute(
            update(XeroDocument)
            .where(col(XeroDocument.claim_token) == token)
            .values(claim_token=None, claimed_at=None)
        )


def _save(
    engine: Engine, row: XeroDocument, clock: Clock, *, db: Session | None = None, **values: Any
) -> None:
    """Update the row (in `db` when given, so a whole batch is one transaction)."""
    values["updated_at"] = clock.now()
    statement = update(XeroDocument).where(col(XeroDocument.id) == row.id).values(**values)
    if db is not None:
        db.execute(statement)
    else:
        with session_scope(engine) as own:
            own.execute(statement)
    for name, value in values.items():
        setattr(row, name, value)


# Pushing


@dataclass
class PushReport:
    pushed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    exceptions: dict[str, str] = field(default_factory=dict)
    voided: list[str] = field(default_factory=list)
    skipped: int = 0  # already pushed, or being pushed by someone else

    @property
    def ok(self) -> bool:
        return not self.failed and not self.exceptions


def push(
    engine: Engine,
    client: XeroClient,
    *,
    clock: Clock,
    refs: list[str] | None = None,
    period: Period | str | None = None,
) -> PushReport:
    """Push our approved, sent and paid invoices that are not in Xero yet (or failed before), and
    mirror voids. `refs` (numbers) or `period` narrow it; a named draft is refused."""
    with session_scope(engine) as db:
        mapping = mapping_of(load_settings(db))
        chosen = _candidates(db, refs=refs, period=period)
        _ensure_rows(db, ((i.doc_type, i.id, i.number) for i in chosen if i.id is not None), clock=clock)
    dead = [i.id for i in chosen if i.status == VOID and i.doc_type == INVOICE and i.id is not None]
    report = PushReport()
    claimed = 0
    # Invoices first: a credit note is allocated to its invoice, which must be in Xero by then.
    for kind in (INVOICE, CREDIT_NOTE):
        live = [i.id for i in chosen if i.status in PUSHABLE and i.doc_type == kind and i.id is not None]
        token, rows = _claim(engine, kind, live, (PENDING, FAILED), clock)
        claimed += len(rows)
        try:
            docs = InvoiceDocs(engine, [row.local_id for row in rows])
            push_documents(engine, client, rows, docs, mapping=mapping, clock=clock, report=report)
        finally:
            _release(engine, token)
    if report.pushed:
        _remember_short_code(engine, client)
    token, void_rows = _claim(engine, INVOICE, dead, (PUSHED,), clock)
    try:
        _mirror_voids(engine, client, void_rows, clock=clock, report=report)
    finally:
        _release(engine, token)
    report.skipped = len(chosen) - claimed - len(void_rows)
    return report


def _remember_short_code(engine: Engine, client: XeroClient) -> None:
    """The organisation's short code, once, for links from Slack into Xero (best effort: the
    links wait for the next push if Xero does not answer now)."""
    with session_scope(engine) as db:
        row = load_connection(db)
        if row is not None and row.short_code:
            return
    try:
        code = client.organisation().get("ShortCode")
    except XeroError:
        return
    with session_scope(engine) as db:
        row = load_connection(db)
        if row is not None:
            row.short_code = code
            db.add(row)


def _candidates(db: Session, *, refs: list[str] | None, period: Period | str | None) -> list[Invoice]:
    if refs:
        found = [invoice_service.find(db=db, ref=ref) for ref in refs]
        drafts = [i.number for i in found if i.status == DRAFT]
        if drafts:
            raise NotAllowed(
                f"{', '.join(drafts)} {'is a draft' if len(drafts) == 1 else 'are drafts'}: approve before pushing to Xero."
            )
        return found
    # Only what has something to do: live invoices not in Xero yet (or failed), and void ones Xero
    # still has as live. Already-pushed invoices are not even read, however many months there are.
    doc = outerjoin(
        Invoice.__table__,  # type: ignore[attr-defined]
        XeroDocument.__table__,  # type: ignore[attr-defined]
        and_(XeroDocument.kind == Invoice.doc_type, XeroDocument.local_id == Invoice.id),
    )
    query = (
        select(Invoice)
        .select_from(doc)
        .where(
            or_(
                and_(
                    col(Invoice.status).in_(PUSHABLE),
                    or_(col(XeroDocument.id).is_(None), col(XeroDocument.state).in_((PENDING, FAILED))),
                ),
                and_(Invoice.status == VOID, XeroDocument.state == PUSHED),
            )
        )
    )
    if period is not None:
        query = query.where(Invoice.period == str(period))
    return list(db.execute(query.order_by(col(Invoice.series), col(Invoice.sequence))).scalars())


class InvoiceDocs(TypingMapping[int, Document]):
    """Our invoices as Documents, read a batch at a time when first needed (by the thread that
    sends that batch), so a big push starts sending at once instead of reading everything first."""

    def __init__(self, engine: Engine, ids: list[int]) -> None:
        self.engine, self.ids = engine, ids
        self._position = {invoice_id: i for i, invoice_id in enumerate(ids)}
        self._cache: dict[int, Document] = {}
        self._lock = threading.Lock()
        self.customer_ids: dict[int, int] = {}
        with session_scope(engine) as db:
            for chunk in chunks(ids, 500):
                rows = db.execute(select(Invoice.id, Invoice.customer_id).where(col(Invoice.id).in_(chunk)))
                self.customer_ids.update({row[0]: row[1] for row in rows})

    def __getitem__(self, invoice_id: int) -> Document:
        with self._lock:
            found = self._cache.get(invoice_id)
        if found is not None:
            return found
        start = self._position[invoice_id] - self._position[invoice_id] % BATCH_SIZE
        chunk = self.ids[start : start + BATCH_SIZE]
        with session_scope(self.engine) as db:
            invoices = db.execute(select(Invoice).where(col(Invoice.id).in_(chunk))).scalars().all()
            lines: dict[int, list[InvoiceLine]] = {}
            for line in db.execute(
                select(InvoiceLine)
                .where(col(InvoiceLine.invoice_id).in_(chunk))
                .order_by(col(InvoiceLine.position))
            ).scalars():
                lines.setdefault(line.invoice_id, []).append(line)
            credited_ids = {i.credits_invoice_id for i in invoices if i.credits_invoice_id is not None}
            credited: dict[int, str] = {
                row[0]: row[1]
                for row in db.execute(
                    select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(credited_ids))
                )
            }
            loaded = {
                i.id: invoice_document(
                    i, lines.get(i.id or 0, []), credits_number=credited.get(i.credits_invoice_id or 0)
                )
                for i in invoices
                if i.id is not None
            }
        with self._lock:
            self._cache.update(loaded)
        return loaded[invoice_id]

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def _customer_of(docs: TypingMapping[int, Document], local_id: int) -> int:
    customer_ids = getattr(docs, "customer_ids", None)
    return customer_ids[local_id] if customer_ids is not None else docs[local_id].customer_id


def push_documents(
    engine: Engine,
    client: XeroClient,
    rows: list[XeroDocument],
    docs: TypingMapping[int, Document],
    *,
    mapping: Mapping,
    clock: Clock,
    report: PushReport,
) -> None:
    """Push claimed documents of one kind: contacts first, then batches of ≤ 50, then allocations."""
    if not rows:
        return
    kind = rows[0].kind
    try:
        contacts = resolve_contacts(
            engine, client, {_customer_of(docs, r.local_id) for r in rows}, clock=clock
        )
    except XeroError as exc:
        for row in rows:
            _fail(engine, row, exc, clock, report)
        return
    ready = []
    for row in rows:
        contact = contacts.get(_customer_of(docs, row.local_id))
        if isinstance(contact, ContactProblem):
            target = EXCEPTION if contact.needs_person else FAILED
            _save(engine, row, clock, state=target, error=f"contact: {contact.message}")
            (report.exceptions if contact.needs_person else report.failed)[row.number] = row.error or ""
        else:
            ready.append((row, contact))
    _adopt_unknown(engine, client, kind, [r for r, _ in ready if r.outcome_unknown], clock)
    todo = [(r, c) for r, c in ready if r.state != PUSHED]
    report.pushed.extend(r.number for r, _ in ready if r.state == PUSHED)
    batches = list(chunks(todo, BATCH_SIZE))

    def send(batch: list[tuple[XeroDocument, str]]) -> list[dict[str, Any]]:
        payload = [to_xero(docs[row.local_id], contact_id=contact, mapping=mapping) for row, contact in batch]
        key = batch_key(kind, [(row.local_id, docs[row.local_id].version) for row, _ in batch])
        return client.save(COLLECTION[kind], payload, key=key)

    for batch, outcome in in_parallel(send, batches):
        if isinstance(outcome, XeroError):
            for row, _ in batch:
                _fail(engine, row, outcome, clock, report)
            continue
        with session_scope(engine) as db:
            for (row, _), answer in zip(batch, outcome, strict=False):
                _record(engine, row, docs[row.local_id], answer, clock, report, db)
    if kind == CREDIT_NOTE:
        _allocate(
            engine, client, [r for r, _ in ready if r.state == PUSHED], docs, clock=clock, report=report
        )


def _fail(engine: Engine, row: XeroDocument, exc: XeroError, clock: Clock, report: PushReport) -> None:
    unknown = bool(getattr(exc, "outcome_unknown", False)) or row.outcome_unknown
    _save(engine, row, clock, state=FAILED, error=exc.user_message[:1000], outcome_unknown=unknown)
    report.failed[row.number] = exc.user_message


def _record(
    engine: Engine,
    row: XeroDocument,
    doc: Document,
    answer: dict[str, Any],
    clock: Clock,
    report: PushReport,
    db: Session,
) -> None:
    problem = item_errors(answer)
    if problem is not None:
        _save(engine, row, clock, db=db, state=FAILED, error=problem[:1000], outcome_unknown=False)
        report.failed[row.number] = problem
        return
    xero_id = answer.get("InvoiceID") or answer.get("CreditNoteID")
    total = Decimal(str(answer.get("Total")))
    values: dict[str, Any] = {
        "xero_id": xero_id,
        "xero_status": answer.get("Status"),
        "xero_total": total,
        "amount_due": Decimal(str(answer.get("AmountDue", answer.get("RemainingCredit", total)))),
        "version": doc.version,
        "pushed_at": clock.now(),
        "outcome_unknown": False,
        "error": None,
        "state": PUSHED,
    }
    if total != doc.total:
        values["state"] = EXCEPTION
        values["error"] = (
            f"Xero's total {total} differs from ours {doc.total}: check the tax types in settings"
        )
        report.exceptions[row.number] = values["error"]
    else:
        report.pushed.append(row.number)
    _save(engine, row, clock, db=db, **values)


def _adopt_unknown(
    engine: Engine, client: XeroClient, kind: str, rows: list[XeroDocument], clock: Clock
) -> None:
    """Documents whose last request timed out: if Xero has them after all, take its id."""
    if kind != INVOICE or not rows:
        return
    for batch in chunks(rows, BATCH_SIZE):
        found = {
            inv.get("InvoiceNumber"): inv
            for inv in client.invoices_by_number([r.number for r in batch])
            if inv.get("Status") not in ("DELETED", "VOIDED")
        }
        for row in batch:
            answer = found.get(row.number)
            if answer is not None:
                _save(
                    engine,
                    row,
                    clock,
                    state=PUSHED,
                    xero_id=answer.get("InvoiceID"),
                    xero_status=answer.get("Status"),
                    xero_total=Decimal(str(answer.get("Total"))),
                    amount_due=Decimal(str(answer.get("AmountDue"))),
                    outcome_unknown=False,
                    error=None,
                    pushed_at=clock.now(),
                )
            else:
                _save(engine, row, clock, outcome_unknown=False)


def _allocate(
    engine: Engine,
    client: XeroClient,
    rows: list[XeroDocument],
    docs: TypingMapping[int, Document],
    *,
    clock: Clock,
    report: PushReport,
) -> None:
    """Each pushed credit note is allocated to the invoice it credits (which must be in Xero)."""
    for row in rows:
        doc = docs[row.local_id]
        if doc.allocate_to is None or row.xero_status == "PAID":
            continue
        with session_scope(engine) as db:
            target = (
                db.execute(
                    select(XeroDocument).where(
                        XeroDocument.kind == INVOICE, XeroDocument.number == doc.allocate_to
                    )
                )
                .scalars()
                .first()
            )
        if target is None or target.xero_id is None:
            _save(
                engine, row, clock, state=FAILED, error=f"not allocated: {doc.allocate_to} is not in Xero yet"
            )
            report.failed[row.number] = row.error or ""
            continue
        try:
            answer = client.allocate(
                row.xero_id or "",
                target.xero_id,
                doc.total,
                doc.issue_date,
                key=batch_key("alloc", [(row.local_id, doc.version)]),
            )
        except XeroError as exc:
            _fail(engine, row, exc, clock, report)
            continue
        problem = item_errors(answer)
        if problem:
            _save(engine, row, clock, state=EXCEPTION, error=f"not allocated to {doc.allocate_to}: {problem}")
            report.exceptions[row.number] = row.error or ""
        else:
            _save(engine, row, clock, xero_status="PAID", amount_due=Decimal("0.00"))


def _mirror_voids(
    engine: Engine, client: XeroClient, rows: list[XeroDocument], *, clock: Clock, report: PushReport
) -> None:
    """Void here → void in Xero (a Xero draft is deleted instead); paid in Xero → a person decides."""
    for row in rows:
        status = "DELETED" if row.xero_status in ("DRAFT", "SUBMITTED") else "VOIDED"
        try:
            answer = client.set_status(
                "Invoices", row.xero_id or "", status, key=f"rebill-void-{row.kind}-{row.local_id}"
            )
        except XeroValidation as exc:
            answer = {
                "HasErrors": True,
                "ValidationErrors": [{"Message": exc.user_message.removeprefix("Xero refused it: ")}],
            }
        except XeroError as exc:
            report.failed[row.number] = exc.user_message
            _save(engine, row, clock, error=f"void not mirrored: {exc.user_message}"[:1000])
            continue
        problem = item_errors(answer)
        if problem:
            message = (
                f"void here but not in Xero: {problem} Credit it in Xero, or reverse the payment there first."
            )
            _save(engine, row, clock, state=EXCEPTION, error=message[:1000])
            report.exceptions[row.number] = message
        else:
            _save(engine, row, clock, state=VOIDED, xero_status=status, error=None)
            report.voided.append(row.number)


def document_state(db: Session, invoice_id: int) -> XeroDocument | None:
    return (
        db.execute(
            select(XeroDocument).where(XeroDocument.kind == INVOICE, XeroDocument.local_id == invoice_id)
        )
        .scalars()
        .first()
    )


def counts(db: Session, invoice_ids: list[int]) -> tuple[int, int]:
    """(pushed, not pushed) among these invoices, for the month-close report."""
    if not invoice_ids:
        return 0, 0
    rows = (
        db.execute(
            select(XeroDocument.state).where(
                XeroDocument.kind == INVOICE, col(XeroDocument.local_id).in_(invoice_ids)
            )
        )
        .scalars()
        .all()
    )
    pushed = sum(1 for s in rows if s in (PUSHED, VOIDED))
    return pushed, len(invoice_ids) - pushed
