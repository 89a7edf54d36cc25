"""The report's builders: a changed invoice says what changed in its thread entry; user text is escaped."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.close_exceptions import CloseException
from core.invoice_changes import InvoiceChanges, LineChange
from core.month_close import CloseReport, Entry, State
from handlers.close_views import report_message, thread_message
from tests.harness.slack_views import texts


def entry(n: int, state: State, changes: InvoiceChanges, **kw: object) -> Entry:
    values: dict[str, object] = {
        "invoice_id": n,
        "number": f"INV-{n:05d}",
        "customer_id": n,
        "customer_name": "<!channel> Harbour & Co",
        "email": "ap@harbour.example",
        "total": Decimal("759.00"),
        "due_date": date(2026, 12, 31),
        "state": state,
        "error": None,
        "approved_by": None,
        "sent_by": None,
        "held_by": None,
        "held_reason": None,
        "exceptions": (),
        "changes": changes,
    }
    return Entry(**(values | kw))  # type: ignore[arg-type]


SAME = InvoiceChanges("INV-00001", "2026-11", Decimal(0), (), "AUD")
GREW = InvoiceChanges(
    "INV-00001",
    "2026-11",
    Decimal("209.00"),
    (LineChange("changed", "M365 seats", Decimal("190"), Decimal("20"), "quantity 17 → 19"),),
    "AUD",
)


def test_changed_invoices_say_why_in_the_thread_and_text_is_escaped() -> None:
    entries = [
        entry(1, State.SENT, SAME),
        entry(
            2,
            State.HELD,
            GREW,
            exceptions=(CloseException("total_changed", "total up 38%"),),
            held_by="system:month_close",
        ),
        entry(3, State.FAILED, SAME, error="451 <busy>"),
    ]
    _, blocks = thread_message(entries, first=1, of=3)
    shown = texts(blocks)
    assert "Since 2026-11: +$209.00 — M365 seats changed (quantity 17 → 19)" in shown
    assert shown.count("Since 2026-11") == 1  # unchanged invoices add nothing
    assert "&lt;!channel&gt; Harbour &amp; Co" in shown and "<!channel>" not in shown
    assert "failed: 451 &lt;busy&gt;" in shown
    report = CloseReport("2026-12", "U0RUN", False, None, True, True, None, entries)
    text, blocks = report_message(report)
    shown = texts(blocks)
    assert text == "Month close 2026-12: 3 invoices, $2,277.00"
    assert (
        "*Not sent, the mail server said:*\n• INV-00003 (&lt;!channel&gt; Harbour &amp; Co): 451 &lt;busy&gt;"
        in shown
    )
    assert (
        "total up 38%" in shown
        and "held_ by the scheduler" not in shown
        and "held* by the scheduler" not in shown
    )
    assert "Run by <@U0RUN>" in shown
