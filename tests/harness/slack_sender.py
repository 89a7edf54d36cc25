"""Sends requests to the app the way Slack does: form-encoded and signed with the signing secret."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

_ids = itertools.count(1)


def sign(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        *,
        response_url: Any,
        team_id: str = "T0TEST",
        after_request: Any = None,
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.response_url = response_url
        self.team_id = team_id
        self.after_request = after_request
        self.http = httpx.Client(timeout=10)

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        signature: str | None = None,
        signed: bool = True,
        wait: bool = True,
    ) -> httpx.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        headers = {"Content-Type": content_type}
        if signed:
            headers["X-Slack-Request-Timestamp"] = ts
            headers["X-Slack-Signature"] = signature or sign(self.signing_secret, ts, body)
        response = self.http.post(self.events_url, content=body.encode(), headers=headers)
        if wait and self.after_request is not None:
            self.after_request()
        return response

    def command(
        self, text: str = "", *, user_id: str = "U0ADMIN", channel_id: str = "C0GENERAL", **kw: Any
    ) -> httpx.Response:
        form = {
            "token": "deprecated",
            "team_id": self.team_id,
            "team_domain": "acme-msp",
            "channel_id": channel_id,
            "channel_name": "billing",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": "/rebill",
            "text": text,
            "api_app_id": "A0REBILL",
            "is_enterprise_install": "false",
            "response_url": self.response_url(),
            "trigger_id": f"{next(_ids)}.trigger",
        }
        return self.post(urlencode(form), **kw)

    def interactive(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), **kw)

    def _base(self, kind: str, user_id: str) -> dict[str, Any]:
        return {
            "type": kind,
            "team": {"id": self.team_id, "domain": "acme-msp"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": self.team_id},
            "api_app_id": "A0REBILL",
            "token": "deprecated",
            "trigger_id": f"{next(_ids)}.trigger",
        }

    def block_action(
        self,
        action_id: str,
        *,
        value: str | None = None,
        block_id: str = "b",
        user_id: str = "U0ADMIN",
        view: dict[str, Any] | None = None,
        channel_id: str = "C0GENERAL",
        selected_option: dict[str, Any] | None = None,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        **kw: Any,
    ) -> httpx.Response:
        action: dict[str, Any] = {
            "type": "button" if selected_option is None else "static_select",
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
        }
        if value is not None:
            action["value"] = value
        if selected_option is not None:
            action["selected_option"] = selected_option
        payload = self._base("block_actions", user_id)
        payload["actions"] = [action]
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
        else:
            # A button on a message: an ephemeral reply unless the message's ts is given.
            container: dict[str, Any] = {
                "type": "message",
                "channel_id": channel_id,
                "is_ephemeral": message_ts is None,
            }
            if message_ts:
                container["message_ts"] = message_ts
                payload["message"] = {"ts": message_ts, "thread_ts": thread_ts}
            if thread_ts:
                container["thread_ts"] = thread_ts
            payload["container"] = container
            payload["channel"] = {"id": channel_id, "name": "billing"}
            payload["response_url"] = self.response_url()
        return self.interactive(payload, **kw)

    def view_submission(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user_id: str = "U0ADMIN", **kw: Any
    ) -> httpx.Response:
        submitted = dict(view)
        submitted.setdefault("id", f"V{next(_ids):08d}")
        submitted["state"] = {"values": values}
        payload = self._base("view_submission", user_id)
        payload["view"] = submitted
        payload["response_urls"] = []
        return self.interactive(payload, **kw)

    def block_suggestion(
        self,
        action_id: str,
        value: str,
        *,
        block_id: str,
        view: dict[str, Any],
        user_id: str = "U0ADMIN",
        **kw: Any,
    ) -> httpx.Response:
        payload = self._base("block_suggestion", user_id)
        payload.update({"action_id": action_id, "block_id": block_id, "value": value, "view": view})
        payload.pop("trigger_id")
        return self.interactive(payload, **kw)

    def event(self, event: dict[str, Any], **kw: Any) -> httpx.Response:
        body = {
            "token": "deprecated",
            "team_id": self.team_id,
            "api_app_id": "A0REBILL",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
        }
        return self.post(json.dumps(body), content_type="application/json", **kw)


def text_value(value: str | None) -> dict[str, Any]:
    """A plain_text_input's submitted state."""
    return {"type": "plain_text_input", "value": value}
