"""The one place where failures become messages: domain errors verbatim, bugs as an error id."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.errors import RebillError

log = logging.getLogger("rebill.errors")


def user_message(error: Exception) -> str:
    if isinstance(error, RebillError):
        return f":warning: {error.user_message}"
    error_id = uuid.uuid4().hex[:8]
    log.error("unexpected error %s", error_id, exc_info=error)
    return (
        ":x: Something went wrong on our side and nothing was changed. "
        f"If it happens again, quote error id `{error_id}`."
    )


def tell_user(body: dict[str, Any], client: WebClient, text: str) -> None:
    """Reach the user wherever the request came from: the response_url, else a DM from the bot."""
    response_url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls") or []), None
    )
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    try:
        if response_url:
            from slack_sdk.webhook import WebhookClient

            WebhookClient(response_url).send(text=text, response_type="ephemeral", replace_original=False)
        elif user:
            client.chat_postMessage(channel=user, text=text)
    except (SlackApiError, OSError):
        log.exception("could not tell user %s about an error", user)


def handle_error(error: Exception, body: dict[str, Any], client: WebClient) -> BoltResponse | None:
    tell_user(body, client, user_message(error))
    return None


def register(app: App) -> None:
    app.error(handle_error)
