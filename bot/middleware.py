"""Global middleware: dependencies onto the context, then the REBILL_ADMINS gate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltRequest, BoltResponse

from handlers.deps import VERIFIED, Deps
from handlers.response_urls import allowed_response_url

log = logging.getLogger(__name__)

REFUSAL = (
    ":no_entry: You are not authorised to use rebill-bot. "
    "Ask your rebill-bot administrator to add you to REBILL_ADMINS."
)


def inject(deps: Deps) -> Callable[..., BoltResponse | None]:
    def inject_deps(context: BoltContext, next: Callable[[], None]) -> None:
        context["deps"] = deps
        context[VERIFIED] = True  # Bolt runs app.use middleware only after its verification
        next()

    return inject_deps


def _request_user(body: dict[str, Any]) -> str | None:
    if "command" in body:
        return body.get("user_id")
    if isinstance(body.get("user"), dict):
        return body["user"].get("id")
    event = body.get("event")
    if isinstance(event, dict):
        return event.get("user")
    return None


def refusal_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "rebill-bot"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": REFUSAL}}],
    }


def refusal_home() -> dict[str, Any]:
    return {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": REFUSAL}}]}


def require_admin(
    req: BoltRequest,
    context: BoltContext,
    body: dict[str, Any],
    next: Callable[[], None],
) -> BoltResponse | None:
    """Refuse before any listener runs, so a refused user can never cause a write."""
    # No bypass for url_verification/ssl_check: Bolt's own middleware answers both before ours runs.
    user = _request_user(body)
    deps: Deps = context["deps"]
    if user is None or deps.access.is_allowed(user):
        if user is None and body.get("type") != "event_callback":
            return BoltResponse(status=200, body="")
        next()
        return None

    log.info("refused user %s", user)
    kind = "command" if "command" in body else body.get("type")
    if kind == "command":
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": REFUSAL})
    if kind == "view_submission":
        return BoltResponse(status=200, body={"response_action": "push", "view": refusal_view()})
    if kind == "block_suggestion":
        return BoltResponse(status=200, body={"options": []})
    client = context.client
    response_url = body.get("response_url")
    if (
        kind == "block_actions"
        and client is not None
        and allowed_response_url(response_url, slack_api_url=client.base_url)
    ):
        from slack_sdk.webhook import WebhookClient

        WebhookClient(response_url).send(text=REFUSAL, response_type="ephemeral", replace_original=False)
    elif kind == "block_actions" and body.get("trigger_id") and client is not None:
        client.views_open(trigger_id=body["trigger_id"], view=refusal_view())
    elif kind == "event_callback" and (body.get("event") or {}).get("type") == "app_home_opened" and client:
        client.views_publish(user_id=user, view=refusal_home())
    return BoltResponse(status=200, body="")
