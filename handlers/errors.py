"""The one place where failures become messages: domain errors verbatim, bugs as an error id."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import OperationalError

from core.errors import Busy, RebillError, error_id
from handlers.blocks import esc
from handlers.deps import VERIFIED
from handlers.response_urls import allowed_response_url

log = logging.getLogger("rebill.errors")


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked" after busy_timeout: the user may simply try again."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def user_message(error: Exception) -> str:
    if is_busy(error):
        error = Busy()
    if isinstance(error, RebillError):
        # Domain messages are plain text that may quote user input (names, echoed arguments):
        # escaped here, the one place they enter mrkdwn.
        return f":warning: {esc(error.user_message)}"
    ref = error_id()
    log.error("unexpected error %s", ref, exc_info=error)
    return (
        ":x: Something went wrong on our side and nothing was changed. "
        f"If it happens again, quote error id `{ref}`."
    )


def tell_user(body: dict[str, Any], client: WebClient, text: str) -> None:
    """Reach the user wherever the request came from: the response_url, else a DM from the bot."""
    response_url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls") or []), None
    )
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    if response_url and not allowed_response_url(response_url, slack_api_url=client.base_url):
        log.warning("not posting to a response_url outside Slack's hosts")
        response_url = None
    try:
        if response_url:
            from slack_sdk.webhook import WebhookClient

            WebhookClient(response_url).send(text=text, response_type="ephemeral", replace_original=False)
        elif user:
            client.chat_postMessage(channel=user, text=text)
    except (SlackApiError, OSError):
        log.exception("could not tell user %s about an error", user)


def report(error: Exception, body: dict[str, Any], client: WebClient) -> None:
    """Tell the user of a request that passed verification what went wrong."""
    tell_user(body, client, user_message(error))


def handle_error(
    error: Exception, body: dict[str, Any], client: WebClient, context: BoltContext
) -> BoltResponse | None:
    """Bolt's global error handler. A body that did not pass signature verification is an
    outsider's text: it is neither answered nor used (no response_url, no DM to its user_id)."""
    if not context.get(VERIFIED):
        log.info("request failed before verification passed: %s", type(error).__name__)
        return None
    report(error, body, client)
    return None


def register(app: App) -> None:
    app.error(handle_error)
