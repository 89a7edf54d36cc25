"""The one wrapper every listener goes through: a typed call object and one DB session per request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Final

from slack_bolt import Ack, BoltContext, BoltResponse, Respond
from slack_sdk import WebClient
from sqlmodel import Session

from core.db import session_scope
from core.errors import FieldErrors
from handlers.config import Settings
from handlers.deps import Deps
from handlers.errors import report as report_error
from handlers.response_urls import allowed_response_url

log = logging.getLogger(__name__)

# How long the request thread waits for a listener to ack before answering Slack with an empty
# 200 itself: inside Slack's 3 s, so the user is never told "failed" for work that goes on.
ACK_WAIT_S: Final = 2.5


class SignallingAck:
    """Bolt's Ack, plus an Event the waiting request thread wakes on the moment ack() is called."""

    def __init__(self, ack: Ack) -> None:
        self._ack = ack
        self.done = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        try:
            return self._ack(*args, **kwargs)
        finally:
            self.done.set()

    @property
    def response(self) -> BoltResponse | None:
        return self._ack.response


@dataclass
class Call:
    """One Slack request, parsed enough that listeners never dig through raw dicts for the basics."""

    ack: Ack | SignallingAck
    body: dict[str, Any]
    client: WebClient
    respond: Respond
    context: BoltContext
    db: Session
    deps: Deps
    logger: logging.Logger

    @property
    def settings(self) -> Settings:
        return self.deps.settings

    @property
    def user_id(self) -> str:
        return self.context.user_id or ""

    @property
    def today(self) -> date:
        """Today where the business is: due dates and "next invoice" follow the billing time zone."""
        return self.deps.clock.today()

    @property
    def acked(self) -> bool:
        return self.ack.response is not None

    @property
    def kind(self) -> str:
        if "command" in self.body:
            return "command"
        return str(self.body.get("type", ""))

    def later(self, work: Handler, *, writes: bool = True) -> None:
        """Run `work(call)` on the slow pool (core.workpool) after the ack, with its own session.

        For anything that waits on someone else: SMTP, PDF rendering, bill runs, PSA calls.
        `work` reports its own result (view update, respond, ephemeral); an error it raises
        reaches the user through handlers.errors. Raises Busy when the pool's queue is full.
        `writes=False` gives it a read-only session (core.db.session_scope).
        """
        self.deps.workers.slow.submit(_run_later, self, work, writes)


Handler = Callable[[Call], None]


def _run_later(call: Call, work: Handler, writes: bool) -> None:
    try:
        with session_scope(call.deps.engine, write=writes) as db:
            work(replace(call, db=db))
    except Exception as exc:  # reported to the user, never lost in a pool thread
        report_error(exc, call.body, call.client)


def _guarded(respond: Respond, response_url: object, client: WebClient) -> Respond:
    """Bolt's respond posts to the body's response_url: only to Slack's own hosts (handlers.response_urls)."""
    if response_url is None or allowed_response_url(response_url, slack_api_url=client.base_url):
        return respond
    log.warning("ignoring a response_url outside Slack's hosts")
    return Respond(response_url=None)


def listener(
    handler: Handler, *, writes: bool | Callable[[dict[str, Any]], bool] = True
) -> Callable[..., None]:
    """Adapt `handler(call)` to Bolt: open the request's session, commit on success, roll back on error.

    Field errors on a modal submission become inline errors; any other error is acknowledged and
    then reported by the one error handler (handlers.errors), so Slack never shows a timeout.

    The handler runs on the listener pool (core.workpool); this request thread returns Bolt's
    answer as soon as the handler acks (the App runs with process_before_response=True), and the
    handler's work after its ack carries on in the pool, as it did under Bolt's own runner.

    `writes=False` (or a function of the body saying so) gives a read-only session, which on
    SQLite reads beside a writer instead of waiting for it (core.db.session_scope).
    """

    def bolt_listener(
        ack: Ack,
        body: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
        logger: logging.Logger,
    ) -> None:
        deps: Deps = context["deps"]
        signalling = SignallingAck(ack)
        respond = _guarded(respond, body.get("response_url") or context.response_url, client)

        write = writes(body) if callable(writes) else writes

        def run() -> None:
            try:
                with session_scope(deps.engine, write=write) as db:
                    handler(Call(signalling, body, client, respond, context, db, deps, logger))
            except Exception as exc:  # every failure is reported to the user; none is lost
                if (
                    isinstance(exc, FieldErrors)
                    and body.get("type") == "view_submission"
                    and ack.response is None
                ):
                    signalling(response_action="errors", errors=exc.errors)
                    return
                if ack.response is None:
                    signalling()
                report_error(exc, body, client)
            finally:
                signalling.done.set()  # events are acked by Bolt once this returns

        deps.workers.listeners.submit(run)
        if not signalling.done.wait(ACK_WAIT_S) and ack.response is None:
            ack()  # still working: Slack gets its 200 now, the handler reports when done

    bolt_listener.__name__ = getattr(handler, "__name__", "listener")
    bolt_listener.__qualname__ = bolt_listener.__name__
    return bolt_listener
