"""The one wrapper every listener goes through: a typed call object and one DB session per request."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient
from sqlmodel import Session

from bot.db import session_scope
from bot.deps import Deps
from bot.settings import Settings
from core.errors import FieldErrors
from handlers.errors import handle_error as report_error


@dataclass
class Call:
    """One Slack request, parsed enough that listeners never dig through raw dicts for the basics."""

    ack: Ack
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
        return self.deps.clock.now().astimezone(self.settings.tz).date()

    @property
    def acked(self) -> bool:
        return self.ack.response is not None

    @property
    def kind(self) -> str:
        if "command" in self.body:
            return "command"
        return str(self.body.get("type", ""))


Handler = Callable[[Call], None]


def listener(handler: Handler) -> Callable[..., None]:
    """Adapt `handler(call)` to Bolt: open the request's session, commit on success, roll back on error.

    Field errors on a modal submission become inline errors; any other error is acknowledged and
    then reported by the one error handler (handlers.errors), so Slack never shows a timeout.
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
        try:
            with session_scope(deps.engine) as db:
                handler(Call(ack, body, client, respond, context, db, deps, logger))
        except Exception as exc:  # every failure is reported to the user; none is lost
            if (
                isinstance(exc, FieldErrors)
                and body.get("type") == "view_submission"
                and ack.response is None
            ):
                ack(response_action="errors", errors=exc.errors)
                return
            if ack.response is None:
                ack()
            # Reported here rather than re-raised: Bolt resets an already-sent ack when a listener
            # raises, which can turn a good acknowledgement into an HTTP 404 for Slack.
            report_error(exc, body, client)

    bolt_listener.__name__ = getattr(handler, "__name__", "listener")
    bolt_listener.__qualname__ = bolt_listener.__name__
    return bolt_listener
