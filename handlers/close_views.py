"""Block Kit for the month-close report: the channel message, its thread, the exception cards.

Pure builders: a `CloseReport` in, (text, blocks) out. The report message is rebuilt from stored
states after every click (approve, hold, send again, it was sent, Send all), so it always says
what is true now.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.money import format_money
from core.month_close import CloseReport, Entry, State
from handlers import blocks
from handlers.alert_views import AlertIds
from handlers.blocks import Block, Mrkdwn, esc, md, mention
from handlers.close_ids import CloseIds
from handlers.customer_views import Ids as CustomerIds
from handlers.invoice_views import Ids as InvoiceIds

THREAD_BATCH = 20  # invoices per thread message: 2 blocks each, inside a message's 50
CARDS = 10  # exception and uncertain cards in the report itself (2 blocks each)


STATE_LABELS: dict[State, str] = {
    State.SENT: ":white_check_mark: sent",
    State.FAILED: ":x: failed",
    State.NO_EMAIL: ":email: not sent: no e-mail",
    State.UNCERTAIN: ":grey_question: delivery uncertain",
    State.SENDING: ":outbox_tray: being sent",
    State.HELD: ":double_vertical_bar: held",
    State.AWAITING_APPROVAL: ":hourglass: awaiting approval",
    State.READY: ":large_green_circle: approved, not sent yet",
    State.PAID: ":moneybag: paid",
}


def who(actor: str | None) -> Mrkdwn:
    """A Slack user as a mention, the scheduler and the CLI in words (never raw user text)."""
    if not actor:
        return Mrkdwn("nobody")
    if actor.startswith("system:"):
        return Mrkdwn("the scheduler" if actor != "system:auto_send" else "auto-send")
    if actor.startswith("cli:"):
        return md("{} (CLI)", actor[4:])
    return mention(actor)


def report_message(report: CloseReport) -> tuple[str, list[Block]]:
    count = len(report.entries)
    text = f"Month close {report.period}: {count} invoice{'s' if count != 1 else ''}, {format_money(report.total, report.currency)}"
    late = ""
    if report.ran_late and report.scheduled_for is not None:
        late = f" · :warning: ran late (due {report.scheduled_for:%-d %b %Y}; the scheduler was down)"
    out: list[Block] = [
        blocks.section(f":receipt: *{text}* (GST included). Each invoice is in the thread."),
        blocks.context(Mrkdwn(f"Run by {who(report.run_by)}{late}")),  # each part escaped,
    ]
    counts = report.counts
    out.append(
        blocks.section(
            " · ".join(f"{STATE_LABELS[state]} *{counts[state]}*" for state in State if counts[state])
            or "No invoices."
        )
    )
    if report.xero is not None:
        pushed, waiting = report.xero
        out.append(blocks.context(f":outbox_tray: Xero: {pushed} pushed · {waiting} not pushed yet"))
    failed = [e for e in report.entries if e.state == State.FAILED]
    if failed:
        out.append(
            blocks.section(
                "*Not sent, the mail server said:*\n"
                + "\n".join(
                    f"• {esc(e.number)} ({esc(e.customer_name)}): {esc(e.error)}" for e in failed[:15]
                )
                + (f"\n…and {len(failed) - 15} more (in the thread)." if len(failed) > 15 else "")
            )
        )
    uncertain = [e for e in report.entries if e.state == State.UNCERTAIN]
    cards = report.exceptions
    if uncertain or cards:
        out.append(blocks.section(f"*To look at before sending ({len(uncertain) + len(cards)}):*"))
    shown = 0
    for entry in uncertain:
        if shown >= CARDS:
            break
        out.extend(uncertain_card(entry))
        shown += 1
    for entry in cards:
        if shown >= CARDS:
            break
        out.extend(exception_card(entry))
        shown += 1
    if len(uncertain) + len(cards) > shown:
        out.append(blocks.context(f"…and {len(uncertain) + len(cards) - shown} more in the thread."))
    people = [f"approved by {', '.join(who(a) for a in report.approved_by)}"] if report.approved_by else []
    if report.sent_by:
        people.append(f"sent by {', '.join(who(a) for a in report.sent_by)}")
    if people:
        line = " · ".join(people)
        out.append(blocks.context(Mrkdwn(line[0].upper() + line[1:])))  # each part escaped
    ready = report.count(State.READY)
    held = report.count(State.HELD)
    buttons = []
    if ready:
        send_all = blocks.button(
            f"Send all approved ({ready})", CloseIds.SEND_ALL, value=report.period, style="primary"
        )
        send_all["confirm"] = {
            "title": blocks.plain("Send all approved?"),
            "text": blocks.mrkdwn(
                f"E-mail {ready} approved {report.period} invoice{'s' if ready != 1 else ''}"
                + (f"; {held} held stay unsent." if held else ".")
            ),
            "confirm": blocks.plain("Send"),
            "deny": blocks.plain("Cancel"),
        }
        buttons.append(send_all)
    buttons.append(blocks.button("Review", AlertIds.REVIEW, value=report.period))
    out.append(blocks.actions(*buttons, block_id=CloseIds.ACTIONS_BLOCK))
    if held:
        out.append(blocks.context(f"{held} held: Send all skips them until someone approves them."))
    return text, out


def _line(entry: Entry) -> str:
    return f"*{esc(entry.number)}* · {esc(entry.customer_name)} · {format_money(entry.total, entry.changes.currency)}"


def exception_card(entry: Entry) -> list[Block]:
    value = str(entry.invoice_id)
    reasons = "\n".join(f":warning: {esc(x.message)}" for x in entry.exceptions)
    buttons = []
    if any(x.fix == "add_email" for x in entry.exceptions):
        buttons.append(blocks.button("Add e-mail", CustomerIds.ADD_EMAIL, value=str(entry.customer_id)))
    buttons.append(blocks.button("Open", InvoiceIds.OPEN, value=value))
    if entry.state in (State.HELD, State.AWAITING_APPROVAL, State.NO_EMAIL, State.FAILED):
        buttons.append(blocks.button("Approve", CloseIds.APPROVE, value=value, style="primary"))
    if entry.state in (State.READY, State.AWAITING_APPROVAL, State.NO_EMAIL, State.FAILED):
        buttons.append(blocks.button("Hold", CloseIds.HOLD, value=value))
    by = f" by {who(entry.held_by)}" if entry.state == State.HELD and entry.held_by else ""
    held = f"\n_{STATE_LABELS[entry.state]}{by}_"
    return [blocks.section(f"{_line(entry)}\n{reasons}{held}"), blocks.actions(*buttons)]


def uncertain_card(entry: Entry) -> list[Block]:
    value = str(entry.invoice_id)
    return [
        blocks.section(
            f"{_line(entry)}\n:grey_question: delivery uncertain: check your mail server's log "
            "(a send was interrupted; it is not sent again by itself)."
        ),
        blocks.actions(
            blocks.button("Send again", CloseIds.SEND_AGAIN, value=value),
            blocks.button("It was sent", CloseIds.WAS_SENT, value=value),
        ),
    ]


def thread_entry(entry: Entry) -> list[Block]:
    """One invoice in the report's thread: what it is, where it stands, what changed, what to do."""
    to = esc(entry.email) if entry.email else "*⚠ no e-mail: can't be sent*"
    state = STATE_LABELS[entry.state]
    if entry.state == State.FAILED and entry.error:
        state += f": {esc(entry.error)}"
    text = f"{_line(entry)} · due {entry.due_date:%-d %b %Y} · {state} · {to}" + (
        f"\n{esc(entry.changes.summary())}" if entry.changes.changed else ""
    )
    value = str(entry.invoice_id)
    buttons = []
    if entry.state in (State.READY, State.FAILED):
        buttons.append(blocks.button("Send", AlertIds.SEND_ONE, value=value, style="primary"))
    if entry.state == State.UNCERTAIN:
        buttons += [
            blocks.button("Send again", CloseIds.SEND_AGAIN, value=value),
            blocks.button("It was sent", CloseIds.WAS_SENT, value=value),
        ]
    if entry.state in (State.AWAITING_APPROVAL, State.HELD):
        buttons.append(blocks.button("Approve", CloseIds.APPROVE, value=value, style="primary"))
    if entry.state in (State.READY, State.AWAITING_APPROVAL):
        buttons.append(blocks.button("Hold", CloseIds.HOLD, value=value))
    buttons.append(blocks.button("View PDF", AlertIds.PDF_ONE, value=value))
    return [blocks.section(text), blocks.actions(*buttons)]


def thread_message(entries: Sequence[Entry], *, first: int, of: int) -> tuple[str, list[Block]]:
    out: list[Block] = []
    for entry in entries:
        out.extend(thread_entry(entry))
    last = first + len(entries) - 1
    return (f"Invoices {first}–{last} of {of}" if last != first else f"Invoice {first} of {of}"), out


def summary_text(report: CloseReport) -> str:
    """One line for an ephemeral reply or the CLI."""
    counts = report.counts
    parts = [f"{counts[s]} {s.value.replace('_', ' ')}" for s in State if counts[s]]
    return f"Month close {report.period}: {len(report.entries)} invoices ({', '.join(parts) or 'none'})"
