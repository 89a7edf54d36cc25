"""Credit notes: how an invoice that went out is corrected, instead of being voided.

Why not void: a sent invoice is in the customer's books (and a paid one in the bank); voiding it
would make ours disagree with theirs. A credit note is a document of its own, numbered in its own
gapless series (`credit_note_prefix`, default "CN-"), referencing the invoice, and crediting all or
some of its lines exactly: each credited line is the invoice line with its amount negated, and the
GST is worked out by the invoice's own rounding method, so crediting everything nets to zero cents.

The ledger stays true: a credited charge line releases the days it billed (`core.coverage` counts
it as a credit), so the next bill run bills them again if the charge still says they are owed, and
not otherwise. To forgive days, end or re-price the charge as well (the preview shows the result).

Concurrency: the writer locks the invoice series first (like every writer of documents, see
`core.numbering`), then the invoice row; a line already credited by a live credit note is refused,
so two people pressing Credit at once produce one credit note, not two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from core import billing_settings, invoices, numbering
from core.calculation import CATCH_UP, CREDIT, Line, Period, totals
from core.clock import Clock
from core.errors import NotAllowed
from core.invoice_states import CREDIT_NOTE, CREDITABLE, INVOICE, VOID
from core.invoice_writing import Draft, require_configured, write_new
from models.invoices import Invoice, InvoiceLine
from models.types import max_length

REASON_LIMIT = max_length(Invoice, "reason")


@dataclass(frozen=True)
class Credited:
    credit_note: Invoice
    invoice: Invoice
    lines: int


def credit(
    *,
    db: Session,
    ref: str | int,
    actor: str,
    clock: Clock,
    positions: Sequence[int] | None = None,
    reason: str | None = None,
    today: date | None = None,
) -> Credited:
    """Issue a credit note for lines `positions` (1-based, as printed; default all) of a sent or
    paid invoice, dated `today` (in the billing time zone; default the clock's UTC date). Raises
    NotAllowed, changing nothing, for anything else."""
    reason = (reason or "").strip()[:REASON_LIMIT] or None
    with db.begin_nested():
        settings = billing_settings.load(db)
        require_configured(settings)
        numbering.lock_series(db, settings=settings)
        invoice = invoices.find(db=db, ref=ref, for_update=True)
        if invoice.doc_type != INVOICE:
            raise NotAllowed(f"{invoice.number} is a credit note; only an invoice can be credited.")
        if invoice.status not in CREDITABLE:
            raise NotAllowed(
                f"{invoice.number} is {invoice.status}; only a sent or paid invoice is credited "
                "(a draft or approved one can still be voided)."
            )
        assert invoice.id is not None
        lines = invoices.lines_of(db=db, invoice_id=invoice.id)
        chosen = _chosen(invoice, lines, positions)
        taken = credited_lines(db, [line.id for line in chosen if line.id is not None])
        if taken:
            numbers = ", ".join(str(line.position) for line in chosen if line.id in taken)
            raise NotAllowed(f"Line(s) {numbers} of {invoice.number} already have a credit note.")
        mirrored = tuple(_mirror(line) for line in chosen)
        today = today or clock.now().date()
        draft = Draft(
            customer_id=invoice.customer_id,
            customer_name=invoice.customer_name,
            customer_email=invoice.customer_email,
            period=Period.parse(invoice.period),
            issue_date=today,
            due_date=today,
            payment_terms_days=0,
            lines=mirrored,
            totals=totals(mirrored, invoice.tax_rate, invoice.tax_rounding),
            flagged_service_ids=(),
            credits_invoice_id=invoice.id,
            reason=reason or f"Credit for {invoice.number}",
        )
        written = write_new(
            db, [draft], settings=settings, actor=actor, clock=clock, status=invoices.APPROVED
        )
    note = invoices.get(db=db, invoice_id=written[0].id)
    return Credited(credit_note=note, invoice=invoice, lines=len(mirrored))


def credited_lines(db: Session, line_ids: Sequence[int]) -> set[int]:
    """Which of these invoice lines a live credit note already credits."""
    if not line_ids:
        return set()
    rows = db.execute(
        select(InvoiceLine.credits_line_id)
        .join(Invoice, col(Invoice.id) == InvoiceLine.invoice_id)
        .where(col(InvoiceLine.credits_line_id).in_(list(line_ids)), Invoice.status != VOID)
    ).scalars()
    return {line_id for line_id in rows if line_id is not None}


def credit_notes_of(db: Session, invoice_id: int) -> list[Invoice]:
    """The live credit notes of an invoice, oldest first."""
    query = (
        select(Invoice)
        .where(
            Invoice.credits_invoice_id == invoice_id, Invoice.doc_type == CREDIT_NOTE, Invoice.status != VOID
        )
        .order_by(col(Invoice.id))
    )
    return list(db.execute(query).scalars())


def _chosen(
    invoice: Invoice, lines: Sequence[InvoiceLine], positions: Sequence[int] | None
) -> list[InvoiceLine]:
    if positions is None:
        return list(lines)
    wanted = set(positions)
    unknown = sorted(wanted - {line.position for line in lines})
    if unknown:
        raise NotAllowed(
            f"{invoice.number} has lines 1 to {len(lines)}; there is no line {', '.join(map(str, unknown))}."
        )
    if not wanted:
        raise NotAllowed("Choose at least one line to credit.")
    return [line for line in lines if line.position in wanted]


def _mirror(line: InvoiceLine) -> Line:
    """The credit note's line for an invoice line: the same days and price, the amount negated.

    Crediting a credit line (one that gave days back) takes those days again: for the ledger it is a
    bill, so its kind is `catch_up`.
    """
    kind = CREDIT if line.amount >= 0 or line.charge_id is None else CATCH_UP
    return Line(
        kind=kind,
        source_id=line.source_id or 0,
        description=f"Credit: {line.description}"[:300],
        quantity=-line.quantity,
        unit_price=line.unit_price,
        amount=-line.amount,
        taxable=line.taxable,
        period_start=line.period_start,
        period_end=line.period_end,
        reason=f"credits line {line.position}",
        charge_id=line.charge_id,
        charge_version=line.charge_version,
        credits_line_id=line.id,
    )
