"""Posting the month-close report: the channel message once, each invoice's thread entry once.

Exactly once, across replicas and crashes
    Every post is claimed first (`core.notifications`): the report under ("close_report", "all",
    period), each invoice's thread entry under ("close_thread", period, invoice id). A thread
    message carries up to `THREAD_BATCH` entries; its invoices' claims are taken together and
    completed with the message's ts once Slack answers. A failed post (Slack said no) gives its
    claims back, so the next catch-up posts those entries.

    A process killed between Slack accepting a message and recording it leaves claims nobody
    will finish. Each message carries its key in Slack message metadata (`event_type`
    `rebill_close_report` / `rebill_close_thread`, payload: period and invoice ids), so the next
    run, finding a dead holder's claim (`core.workers.is_gone`), reads the channel
    (conversations.history) or the thread (conversations.replies), records what had landed, and
    posts only what had not. Result: each message at most once, and at least once after a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from core import notifications, workers
from core.clock import BusinessClock
from core.month_close import CloseReport, Entry
from handlers import close_views
from handlers.poster import Poster

REPORT_EVENT = "rebill_close_report"
THREAD_EVENT = "rebill_close_thread"
THREAD_BATCH = close_views.THREAD_BATCH


@dataclass(frozen=True)
class Published:
    report_ts: str | None  # None: another live process is posting it
    thread_posted: int  # entries posted by this call
    recovered: int  # entries found already in Slack after a crash


@dataclass(frozen=True)
class Slack:
    engine: Engine
    clock: BusinessClock
    client: WebClient
    poster: Poster
    channel: str


def publish(slack: Slack, report: CloseReport) -> Published:
    me = workers.this_worker()
    ts = _report_ts(slack, report, me)
    if ts is None:
        return Published(None, 0, 0)
    posted, recovered = _thread(slack, report, ts, me)
    return Published(ts, posted, recovered)


def report_ts(engine: Engine, period: str) -> tuple[str | None, str | None]:
    """(channel, ts) of the period's report message, once posted."""
    row = notifications.find(engine, kind="close_report", subject="all", occasion=period)
    if row is None or row.done_at is None:
        return None, None
    return row.channel, row.message_ts


def thread_messages(engine: Engine, period: str) -> dict[str, list[int]]:
    """{thread message ts: the invoice ids it shows}, from the entries' completed claims."""
    out: dict[str, list[int]] = {}
    for row in notifications.done_for(engine, kind="close_thread", subject=period):
        if row.message_ts and row.occasion.isdigit():
            out.setdefault(row.message_ts, []).append(int(row.occasion))
    return out


def _report_ts(slack: Slack, report: CloseReport, me: str) -> str | None:
    key = {"kind": "close_report", "subject": "all", "occasion": report.period}
    claim = notifications.claim(slack.engine, **key, claimed_by=me, clock=slack.clock)
    if claim is None:
        row = notifications.find(slack.engine, **key)
        if row is None:
            return None
        if row.done_at is not None:
            return row.message_ts
        if not workers.is_gone(row.claimed_by, None, now=slack.clock.now(), stale_after=workers.STALE_AFTER):
            return None
        assert row.id is not None
        if not notifications.take_over(
            slack.engine, row.id, was=row.claimed_by, claimed_by=me, clock=slack.clock
        ):
            return None
        landed = _find_report(slack, report.period, since=row.claimed_at)
        if landed is not None:
            notifications.complete(
                slack.engine, row.id, clock=slack.clock, channel=slack.channel, message_ts=landed
            )
            return landed
        claim = row.id
    text, blocks = close_views.report_message(report)
    metadata = {"event_type": REPORT_EVENT, "event_payload": {"period": report.period}}
    with notifications.held(slack.engine, [claim], clock=slack.clock) as held:
        ts = slack.poster.post(slack.channel, text, blocks, metadata=metadata)
        held.posted(slack.channel, ts)
    return ts


def _thread(slack: Slack, report: CloseReport, ts: str, me: str) -> tuple[int, int]:
    mine: list[tuple[int, Entry]] = []
    orphaned: list[tuple[int, str, Entry]] = []
    for entry in report.entries:
        key = {"kind": "close_thread", "subject": report.period, "occasion": str(entry.invoice_id)}
        claim = notifications.claim(slack.engine, **key, claimed_by=me, clock=slack.clock)
        if claim is not None:
            mine.append((claim, entry))
            continue
        row = notifications.find(slack.engine, **key)
        if row is None or row.done_at is not None or row.id is None:
            continue
        if workers.is_gone(row.claimed_by, None, now=slack.clock.now(), stale_after=workers.STALE_AFTER):
            orphaned.append((row.id, row.claimed_by, entry))
    recovered = 0
    if orphaned:
        landed = _posted_in_thread(slack, ts, report.period)
        for claim_id, was, entry in orphaned:
            if not notifications.take_over(slack.engine, claim_id, was=was, claimed_by=me, clock=slack.clock):
                continue
            if entry.invoice_id in landed:
                notifications.complete(
                    slack.engine,
                    claim_id,
                    clock=slack.clock,
                    channel=slack.channel,
                    message_ts=landed[entry.invoice_id],
                )
                recovered += 1
            else:
                mine.append((claim_id, entry))
    mine.sort(key=lambda pair: pair[1].invoice_id)
    order = {e.invoice_id: n for n, e in enumerate(report.entries, start=1)}
    for start in range(0, len(mine), THREAD_BATCH):
        batch = mine[start : start + THREAD_BATCH]
        _post_batch(slack, report, ts, batch, first=order[batch[0][1].invoice_id])
    return len(mine), recovered


def _post_batch(
    slack: Slack, report: CloseReport, ts: str, batch: Sequence[tuple[int, Entry]], *, first: int
) -> None:
    text, blocks = close_views.thread_message([e for _, e in batch], first=first, of=len(report.entries))
    ids = ",".join(str(e.invoice_id) for _, e in batch)
    metadata = {"event_type": THREAD_EVENT, "event_payload": {"period": report.period, "invoices": ids}}
    with notifications.held(slack.engine, [claim for claim, _ in batch], clock=slack.clock) as held:
        posted = slack.poster.post(slack.channel, text, blocks, thread_ts=ts, metadata=metadata)
        held.posted(slack.channel, posted)


def _messages(slack: Slack, method: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = slack.client.api_call(
            method,
            data={
                **params,
                "include_all_metadata": "true",
                "limit": 200,
                **({"cursor": cursor} if cursor else {}),
            },
        )
        out.extend(page.get("messages") or [])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return out


def _find_report(slack: Slack, period: str, *, since: datetime) -> str | None:
    # Only messages from around the dead holder's claim onwards: the report can't be older.
    oldest = f"{since.timestamp() - 60:.6f}"
    for message in _messages(slack, "conversations.history", channel=slack.channel, oldest=oldest):
        meta = message.get("metadata") or {}
        if (
            meta.get("event_type") == REPORT_EVENT
            and (meta.get("event_payload") or {}).get("period") == period
        ):
            return str(message["ts"])
    return None


def _posted_in_thread(slack: Slack, ts: str, period: str) -> dict[int, str]:
    landed: dict[int, str] = {}
    for message in _messages(slack, "conversations.replies", channel=slack.channel, ts=ts):
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == THREAD_EVENT and payload.get("period") == period:
            for part in str(payload.get("invoices", "")).split(","):
                if part.isdigit():
                    landed[int(part)] = str(message["ts"])
    return landed
