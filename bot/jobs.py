"""Every scheduled job, with an explicit id, registered here and nowhere else.

Each job claims its side effects in the database (core.notifications) keyed by the occasion it
was scheduled for, so running it twice (two replicas, a restart, `rebill-bot jobs run`) does the
work once, and a scheduler that was down at the scheduled time makes the missed run up once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.psa_alerts import post_psa_changes
from bot.settings import Settings
from core import alerts, billing_settings, month_close, notifications, psa_service, workers
from core.billrun import period_to_bill
from core.calculation import Period
from core.clock import BusinessClock
from core.db import session_scope
from core.errors import RebillError
from core.month_close import CloseReport, close_month
from core.reminders import newly_overdue, overdue_alert_key, send_reminders
from core.settings_keys import hint
from handlers import alert_views, close_report
from handlers.poster import Poster
from integrations.config import PsaSettings
from models.system import BillingSettings

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(hours=6)  # a month close starting later than this after its time says it ran late
MONTHLY_LOOKBACK = timedelta(days=400)  # how far back missed month closes are looked for


@dataclass(frozen=True)
class JobContext:
    settings: Settings
    engine: Engine
    clock: BusinessClock
    client: WebClient
    poster: Poster
    psa: PsaSettings
    worker: str = field(default_factory=workers.this_worker)

    @property
    def tz(self) -> tzinfo:
        return self.clock.zone


@dataclass(frozen=True)
class JobSpec:
    id: str
    description: str
    trigger: Callable[[BillingSettings, tzinfo], BaseTrigger]
    run: Callable[[JobContext, datetime], str]
    catch_up: timedelta


def _alert_channel(ctx: JobContext) -> str | None:
    with session_scope(ctx.engine) as db:
        return billing_settings.load(db).alert_channel_id


def _digest_trigger(row: BillingSettings, tz: tzinfo) -> CronTrigger:
    """The daily alerts go out together, at the digest time set in /rebill settings."""
    hour, _, minute = (row.missing_email_digest_time or "09:00").partition(":")
    return CronTrigger(hour=int(hour), minute=int(minute or 0), timezone=tz)


def missing_email_digest(ctx: JobContext, scheduled_for: datetime) -> str:
    day = ctx.clock.local_date(scheduled_for)
    channel = _alert_channel(ctx)
    if channel is None:
        return Skipped(f"no alerts channel set ({hint('alert_channel_id')}): skipped")
    held = notifications.hold(
        ctx.engine,
        kind="missing_email_digest",
        subject="all",
        occasion=day.isoformat(),
        claimed_by=ctx.worker,
        clock=ctx.clock,
    )
    if held is None:
        return f"already done for {day}"
    with held:
        with session_scope(ctx.engine) as db:
            customers = list(alerts.missing_email_with_work(db, today=day))
        if not customers:
            return "nobody is missing an e-mail address: nothing posted"
        text, blocks = alert_views.missing_email_digest(customers)
        held.posted(channel, ctx.poster.post(channel, text, blocks))
    return f"posted: {len(customers)} customer(s) without an e-mail"


def monthly_billrun(ctx: JobContext, scheduled_for: datetime) -> str:
    """The month close for the month `scheduled_for` falls in, then its report in the channel.

    Everything it does is claimed (`core.month_close`, `handlers.close_report`), so every replica may
    run it, and running it again posts only what is missing from the report's thread.
    """
    with session_scope(ctx.engine, write=False) as db:
        period = period_to_bill(db=db, today=ctx.clock.local_date(scheduled_for))
    late = ctx.clock.now() - scheduled_for > LATE_AFTER
    report = close_month(
        engine=ctx.engine,
        period=period,
        actor="system:billrun",
        clock=ctx.clock,
        smtp=ctx.settings.smtp,
        psa_configured=ctx.psa.rebill_psa is not None,
        scheduled_for=scheduled_for,
        ran_late=late,
        templates_dir=ctx.settings.rebill_templates_dir,
    )
    billed = report.billed
    head = f"month close {period}: {billed.created if billed else 0} created"
    head += f", {billed.skipped_existing if billed else 0} already there"
    if report.sent_now:
        sent = sum(1 for r in report.sent_now if r.ok)
        head += f"; {sent} e-mailed, {len(report.sent_now) - sent} not"
    if report.ran_late:
        head += " (ran late)"
    return f"{head}; {publish_report(ctx, report)}"


def publish_report(ctx: JobContext, report: CloseReport) -> str:
    channel = _alert_channel(ctx)
    if channel is None:
        return "no alerts channel set (/rebill settings): report not posted"
    if not report.entries:
        return f"no invoices for {report.period}: nothing posted"
    if not report.finished:  # its holder reports once it has sent: a report now would not be true
        return "being closed by another process: it posts the report"
    slack = close_report.Slack(ctx.engine, ctx.clock, ctx.client, ctx.poster, channel)
    done = close_report.publish(slack, report)
    if done.report_ts is None:
        return "report being posted by another process"
    parts = [f"{done.thread_posted} thread entr{'y' if done.thread_posted == 1 else 'ies'} posted"]
    if done.recovered:
        parts.append(f"{done.recovered} found already posted")
    return "report posted: " + ", ".join(parts)


def payment_reminders(ctx: JobContext, scheduled_for: datetime) -> str:
    """Reminder e-mails 4 days before due and 1, 7 and 14 days after, each at most once."""
    with session_scope(ctx.engine) as db:
        enabled = billing_settings.load(db).reminders_enabled
    if not enabled:
        return Skipped(f"reminders are off ({hint('reminders')})")
    if ctx.settings.smtp is None:
        return "e-mail is not configured (SMTP_HOST): no reminders sent"
    results = send_reminders(
        engine=ctx.engine,
        smtp=ctx.settings.smtp,
        clock=ctx.clock,
        claimed_by=ctx.worker,
        templates_dir=ctx.settings.rebill_templates_dir,
    )
    sent = sum(1 for r in results if r.ok)
    return f"{sent} reminder(s) sent, {len(results) - sent} not sent"


def overdue_alert(ctx: JobContext, scheduled_for: datetime) -> str:
    """Each invoice that became overdue is announced once, in one message per day."""
    channel = _alert_channel(ctx)
    if channel is None:
        return Skipped(f"no alerts channel set ({hint('alert_channel_id')}): skipped")
    today = ctx.clock.local_date(scheduled_for)
    with session_scope(ctx.engine) as db:
        overdue = newly_overdue(db, today=today)
    claimed = []
    for invoice in overdue:
        claim = notifications.claim(
            ctx.engine, **overdue_alert_key(invoice), claimed_by=ctx.worker, clock=ctx.clock
        )
        if claim is not None:
            claimed.append((claim, invoice))
    if not claimed:
        return "no newly overdue invoices"
    with notifications.held(ctx.engine, [claim for claim, _ in claimed], clock=ctx.clock) as held:
        text, blocks = alert_views.overdue_alert([invoice for _, invoice in claimed], today=today)
        held.posted(channel, ctx.poster.post(channel, text, blocks))
    return f"posted: {len(claimed)} newly overdue"


def psa_refresh(ctx: JobContext, scheduled_for: datetime) -> str:
    """Refresh the PSA company cache and resync linked customers, once per scheduled slot."""
    kind = ctx.psa.rebill_psa
    if kind is None:
        return Skipped("no PSA configured")
    slot = scheduled_for.astimezone(ctx.tz).strftime("%Y-%m-%dT%H")
    held = notifications.hold(
        ctx.engine,
        kind="psa_refresh",
        subject=kind,
        occasion=slot,
        claimed_by=ctx.worker,
        clock=ctx.clock,
        keep_on_error=True,
    )
    if held is None:
        return f"already done for {slot}"
    with held:
        try:
            report = psa_service.refresh_and_sync(
                ctx.engine, ctx.psa, actor="system:psa_refresh", clock=ctx.clock
            )
        except RebillError as exc:
            # Done for this slot: the next slot retries, and the team hears about this failure once.
            channel = _alert_channel(ctx)
            if channel:
                vendor = psa_service.vendor_name(kind)
                text = f":warning: Refreshing the {vendor} company list failed; the previous list is kept. {exc.user_message}"
                ctx.poster.post(
                    channel, text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
                )
            return f"refresh failed: {exc.user_message}"
    return (
        f"cached {report.refreshed.company_count} companies; synced {report.synced.checked} customers "
        f"({report.synced.updated} updated); "
        + post_psa_changes(
            ctx.engine,
            ctx.poster,
            _alert_channel(ctx),
            kind,
            slot,
            report.synced.changes,
            clock=ctx.clock,
            worker=ctx.worker,
        )
    )


def xero_sync(ctx: JobContext, scheduled_for: datetime) -> str:
    """Every 30 minutes: push what is waiting (in "push when approved" mode, and retries of failed
    pushes), mirror voids, then read payments back. Claimed per slot, so one replica does it."""
    from core import xero_payments
    from core import xero_sync as sync
    from core.xero_api import xero_client
    from core.xero_settings import PUSH_ON_APPROVE, load_settings
    from integrations.xero_auth import XeroError, load_xero_config

    try:
        config = load_xero_config()
    except XeroError as exc:
        return f"Xero settings are wrong: {exc.user_message}"
    if config is None:
        return Skipped("Xero not configured")
    slot = scheduled_for.astimezone(ctx.tz)
    slot = slot.replace(minute=slot.minute - slot.minute % 30, second=0, microsecond=0)
    held = notifications.hold(
        ctx.engine,
        kind="xero_sync",
        subject="xero",
        occasion=slot.strftime("%Y-%m-%dT%H:%M"),
        claimed_by=ctx.worker,
        clock=ctx.clock,
        keep_on_error=True,
    )
    if held is None:
        return f"already done for {slot:%Y-%m-%d %H:%M}"
    parts = []
    with held:
        try:
            with session_scope(ctx.engine) as db:
                mode = load_settings(db).push_mode
            with xero_client(engine=ctx.engine, config=config, clock=ctx.clock) as client:
                if mode == PUSH_ON_APPROVE:
                    report = sync.push(ctx.engine, client, clock=ctx.clock)
                    parts.append(f"{len(report.pushed)} pushed, {len(report.failed)} not pushed")
                payments = xero_payments.pull_payments(ctx.engine, client, clock=ctx.clock)
                parts.append(f"{len(payments.paid)} paid, {len(payments.part_paid)} part-paid")
        except RebillError as exc:
            # Done for this slot: the next slot retries; the reason is in the log and on each invoice.
            return f"Xero: {exc.user_message}"
    return "; ".join(parts)


JOBS: list[JobSpec] = [
    JobSpec(
        id="monthly_billrun",
        description="Month close: bill run, exceptions, auto-send if on, the report in the channel",
        trigger=lambda row, tz: CronTrigger(day=row.bill_run_day, hour=row.bill_run_hour, timezone=tz),
        run=monthly_billrun,
        catch_up=MONTHLY_LOOKBACK,
    ),
    JobSpec(
        id="overdue_alert",
        description="Daily alert of invoices that became overdue",
        trigger=_digest_trigger,
        run=overdue_alert,
        catch_up=timedelta(hours=12),
    ),
    JobSpec(
        id="missing_email_digest",
        description="Daily digest of customers without an e-mail address",
        trigger=_digest_trigger,
        run=missing_email_digest,
        catch_up=timedelta(hours=12),
    ),
    JobSpec(
        id="payment_reminders",
        description="Payment reminder e-mails (4 days before due; 1, 7 and 14 days after)",
        trigger=lambda row, tz: CronTrigger(hour=8, minute=0, timezone=tz),
        run=payment_reminders,
        catch_up=timedelta(hours=12),
    ),
    JobSpec(
        id="xero_sync",
        description="Push waiting invoices to Xero and read payments back (every 30 minutes)",
        trigger=lambda row, tz: CronTrigger(minute="*/30", timezone=tz),
        run=xero_sync,
        catch_up=timedelta(minutes=30),
    ),
    JobSpec(
        id="psa_refresh",
        description="Refresh the PSA company list and resync linked customers (every 6 hours)",
        trigger=lambda row, tz: CronTrigger(hour="*/6", minute=15, timezone=tz),
        run=psa_refresh,
        catch_up=timedelta(hours=6),
    ),
]


def find(job_id: str) -> JobSpec | None:
    return next((spec for spec in JOBS if spec.id == job_id), None)


def previous_fire_time(trigger: BaseTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The last time `trigger` fired at or before `now`, looking back at most `window`."""
    last = None
    moment = trigger.get_next_fire_time(None, now - window)
    while moment is not None and moment <= now:
        last = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return last


class Skipped(str):
    """A job's answer when it had nothing to do because a feature is off or not set up: logged at
    DEBUG, so a start-up's catch-up of every job doesn't print a line per feature not in use."""


def run_logged(ctx: JobContext, spec: JobSpec, scheduled_for: datetime) -> str:
    try:
        summary = spec.run(ctx, scheduled_for)
    except RebillError as exc:  # expected (billing not set up, no channel...): one line, no traceback
        log.warning("job %s for %s: %s", spec.id, scheduled_for.isoformat(), exc.user_message)
        return f"not run: {exc.user_message}"
    except Exception:
        log.exception("job %s for %s failed", spec.id, scheduled_for.isoformat())
        return "failed (see the log)"
    level = logging.DEBUG if isinstance(summary, Skipped) else logging.INFO
    log.log(level, "job %s for %s: %s", spec.id, scheduled_for.isoformat(), summary)
    return summary


def catch_up(ctx: JobContext) -> list[tuple[str, str]]:
    """Make up missed runs: every missed month close (oldest first), each other job's latest run.

    Month close: every bill-run time in the last `MONTHLY_LOOKBACK` whose month has no close yet
    and is later than the latest closed month, then the latest bill-run time again (idempotent:
    it posts whatever is missing from that report). A database with no close at all (a fresh
    install, or one upgraded from before month closes) makes up only the latest.
    Daily jobs make up only their latest run, within their `catch_up` window (12 hours): a
    reminder or alert for a day long gone is not sent.
    """
    with session_scope(ctx.engine) as db:
        row = billing_settings.load(db)
    now = ctx.clock.now()
    done = []
    for spec in JOBS:
        if spec.id == "monthly_billrun":
            for moment in missed_month_closes(ctx, spec.trigger(row, ctx.tz), now):
                done.append((spec.id, run_logged(ctx, spec, moment)))
            continue
        last = previous_fire_time(spec.trigger(row, ctx.tz), now, spec.catch_up)
        if last is not None:
            done.append((spec.id, run_logged(ctx, spec, last)))
    return done


def missed_month_closes(ctx: JobContext, trigger: BaseTrigger, now: datetime) -> list[datetime]:
    moments = fire_times(trigger, now, MONTHLY_LOOKBACK)
    if not moments:
        return []
    with session_scope(ctx.engine) as db:
        closed = month_close.closed_periods(db=db)
    if not closed:
        return moments[-1:]
    latest = max(closed)
    missed = [
        m
        for m in moments[:-1]
        if str(Period.of(ctx.clock.local_date(m))) not in closed
        and str(Period.of(ctx.clock.local_date(m))) > latest
    ]
    return [*missed, moments[-1]]


def fire_times(trigger: BaseTrigger, now: datetime, window: timedelta) -> list[datetime]:
    """Every time `trigger` fired in (now - window, now], oldest first."""
    out = []
    moment = trigger.get_next_fire_time(None, now - window)
    while moment is not None and moment <= now:
        out.append(moment)
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return out
