"""A fake Slack Web API: real HTTP on 127.0.0.1, answers shaped like Slack's, every call recorded.

Tests assert on what the app asked Slack to do, and inject the failures Slack really produces
(`ratelimited` with 429 + Retry-After, `expired_trigger_id`, 5xx).

Source of the shapes: Slack's published Web API reference, one page per method
(https://api.slack.com/methods/<method>: `auth.test`, `chat.postMessage`, `chat.update`,
`conversations.history`/`replies`, `views.open`/`push`/`update`/`publish`, `files.info`,
`files.getUploadURLExternal`/`completeUploadExternal`, `apps.connections.open`), as slack_sdk's
client sends them. Only the fields the app reads are answered; anything else a real workspace
returns is left out. Unconfirmed: the exact `metadata` echo in `conversations.history` (the fake
returns what was posted, which is what the method page describes).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

JSON_FIELDS = {"blocks", "view", "attachments", "files", "metadata"}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    body: str | None = None


@dataclass
class Stall:
    """Post the message, then keep the caller waiting for its answer until released: the moment a
    client can die after Slack has accepted a message but before it learns the message's ts."""

    where: Callable[[dict[str, Any]], bool]
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class FakeSlack:
    bot_token: str = "xoxb-test-token"
    team_id: str = "T0TEST"
    bot_user_id: str = "U0BOT"
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.uploads: dict[str, bytes] = {}
        self.hosted: dict[str, tuple[str, bytes]] = {}  # files users "uploaded": id -> (name, bytes)
        self._faults: dict[str, list[Fault]] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self.messages: list[dict[str, Any]] = []  # what chat.postMessage posted, for conversations.*
        self._stalls: list[Stall] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._download(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    def response_url(self, name: str = "") -> str:
        return f"{self.base_url}/response/{name or next(self._ids)}"

    # -- test controls ---------------------------------------------------------------------
    def fail_next(self, method: str, *, times: int = 1, **fault: Any) -> None:
        with self._cond:
            self._faults.setdefault(method, []).extend(Fault(**fault) for _ in range(times))

    def stall_post(self, where: Callable[[dict[str, Any]], bool]) -> Stall:
        stall = Stall(where)
        with self._cond:
            self._stalls.append(stall)
        return stall

    def calls_to(self, method: str) -> list[ApiCall]:
        with self._cond:
            return [c for c in self.calls if c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        where: Callable[[ApiCall], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[ApiCall]:
        """Block until `count` matching calls arrived (the app works after it acks), or fail."""

        def matching() -> list[ApiCall]:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

        with self._cond:
            if not self._cond.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                seen = [c.method for c in self.calls]
                raise AssertionError(f"expected {count} call(s) to {method}, saw {seen}")
            return matching()

    def host_file(self, name: str, content: bytes) -> str:
        """A file a user uploaded (e.g. through a file_input); returns its id (F…)."""
        file_id = f"F{next(self._ids):08d}"
        with self._cond:
            self.hosted[file_id] = (name, content)
        return file_id

    def reset(self) -> None:
        with self._cond:
            self.calls.clear()

    # -- HTTP ------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length)
        path = urlparse(request.path).path
        headers = {k.lower(): v for k, v in request.headers.items()}
        if path.startswith("/upload/"):
            self.uploads[path.rsplit("/", 1)[1]] = raw
            self._record(ApiCall("upload", {"file_id": path.rsplit("/", 1)[1], "size": len(raw)}, headers))
            return self._send(request, 200, "OK", "text/plain")
        if path.startswith("/response/"):
            params = json.loads(raw or b"{}")
            self._record(ApiCall("response_url", {"url": path, **params}, headers))
            return self._send(request, 200, "ok", "text/plain")
        if not path.startswith("/api/"):
            return self._send(request, 404, "not found", "text/plain")
        method = path.removeprefix("/api/")
        params = self._parse(raw, headers.get("content-type", ""))
        fault = self._take_fault(method)
        self._record(ApiCall(method, params, headers))
        if fault:
            extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            body = (
                fault.body
                if fault.body is not None
                else json.dumps({"ok": False, "error": fault.error or "fatal_error"})
            )
            return self._send(request, fault.status, body, "application/json", extra)
        if headers.get("authorization") != f"Bearer {self.bot_token}" and method != "apps.connections.open":
            return self._json(request, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return self._json(request, {"ok": False, "error": "unknown_method"})
        return self._json(request, handler(params))

    def _download(self, request: BaseHTTPRequestHandler) -> None:
        """GET url_private_download: like Slack, only with the bot token as a Bearer header."""
        path = urlparse(request.path).path
        headers = {k.lower(): v for k, v in request.headers.items()}
        self._record(ApiCall("download", {"path": path}, headers))
        file_id = path.removeprefix("/files-pri/").split("/", 1)[0]
        if not path.startswith("/files-pri/") or file_id not in self.hosted:
            return self._send(request, 404, "not found", "text/plain")
        if headers.get("authorization") != f"Bearer {self.bot_token}":
            # Slack answers an unauthenticated download with its sign-in page, not the file.
            return self._send(request, 200, "<html>sign in</html>", "text/html")
        request.send_response(200)
        request.send_header("Content-Type", "text/csv")
        request.send_header("Content-Length", str(len(self.hosted[file_id][1])))
        request.end_headers()
        request.wfile.write(self.hosted[file_id][1])

    def _api_files_info(self, p: dict[str, Any]) -> dict[str, Any]:
        """files.info (docs.slack.dev/reference/methods/files.info): the file object, trimmed."""
        file_id = str(p.get("file", ""))
        if file_id not in self.hosted:
            return {"ok": False, "error": "file_not_found"}
        name, content = self.hosted[file_id]
        return {
            "ok": True,
            "file": {
                "id": file_id,
                "name": name,
                "size": len(content),
                "filetype": "csv",
                "url_private": f"{self.base_url}/files-pri/{file_id}/{name}",
                "url_private_download": f"{self.base_url}/files-pri/{file_id}/download/{name}",
            },
        }

    def _take_fault(self, method: str) -> Fault | None:
        with self._cond:
            queue = self._faults.get(method)
            return queue.pop(0) if queue else None

    def _record(self, call: ApiCall) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    @staticmethod
    def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
        params = json.loads(raw or b"{}") if "json" in content_type else dict(parse_qsl(raw.decode()))
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return params

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: str,
        ctype: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode()
        request.send_response(status)
        request.send_header("Content-Type", ctype)
        request.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)

    def _json(self, request: BaseHTTPRequestHandler, payload: dict[str, Any]) -> None:
        self._send(request, 200, json.dumps(payload), "application/json; charset=utf-8")

    def _ts(self) -> str:
        return f"1700000000.{next(self._ids):06d}"

    # -- Web API methods -------------------------------------------------------------------
    def _api_auth_test(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme-msp.slack.com/",
            "team": "Acme MSP",
            "user": "rebill",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0BOT",
        }

    def _api_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = p.get("channel", "")
        ts = self._ts()
        message = {"type": "message", "text": p.get("text"), "ts": ts, "channel": channel}
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        if p.get("metadata"):
            message["metadata"] = p["metadata"]
        with self._cond:
            self.messages.append(message)
            stall = next((s for s in self._stalls if s.where(p)), None)
            if stall is not None:
                self._stalls.remove(stall)
        if stall is not None:
            stall.arrived.set()
            stall.release.wait(timeout=60)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": p.get("text"), "ts": ts}}

    # conversations.history / conversations.replies as documented at
    # https://api.slack.com/methods/conversations.history and .../conversations.replies:
    # newest first for history, parent then replies oldest first for replies; `metadata` only with
    # include_all_metadata; one page here (has_more false).
    def _visible(self, message: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        shown = dict(message)
        if str(p.get("include_all_metadata", "")).lower() not in ("1", "true"):
            shown.pop("metadata", None)
        return shown

    def _api_conversations_history(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            top = [m for m in self.messages if m["channel"] == p.get("channel") and "thread_ts" not in m]
        return {
            "ok": True,
            "messages": [self._visible(m, p) for m in reversed(top)],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _api_conversations_replies(self, p: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            found = [
                m
                for m in self.messages
                if m["channel"] == p.get("channel")
                and (m["ts"] == p.get("ts") or m.get("thread_ts") == p.get("ts"))
            ]
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        return {
            "ok": True,
            "messages": [self._visible(m, p) for m in found],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _api_chat_postEphemeral(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._ts()}

    def _api_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": p.get("channel"), "ts": p.get("ts"), "text": p.get("text")}

    def _view(self, p: dict[str, Any]) -> dict[str, Any]:
        view = dict(p.get("view") or {})
        view.setdefault("id", p.get("view_id") or f"V{next(self._ids):08d}")
        view.setdefault("hash", f"h{next(self._ids)}")
        return {"ok": True, "view": view}

    def _api_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("trigger_id") == "expired":
            return {"ok": False, "error": "expired_trigger_id"}
        return self._view(p)

    _api_views_push = _api_views_open

    def _api_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._view(p)

    def _api_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._view(p)

    def _api_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = p.get("user", "")
        info = self.users.get(user)
        if info is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, **info}}

    def _api_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        group = p.get("usergroup", "")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _api_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = p.get("channel", "")
        info = self.channels.get(channel)
        if info is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": {"id": channel, **info}}

    def _api_files_getUploadURLExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _api_files_completeUploadExternal(self, p: dict[str, Any]) -> dict[str, Any]:
        files = p.get("files") or []
        return {"ok": True, "files": [{"id": f.get("id"), "title": f.get("title")} for f in files]}

    socket_url: str = "ws://127.0.0.1:9/unset"

    def _api_apps_connections_open(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.socket_url}

    def _api_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": "D" + str(p.get("users", "U"))[1:]}}
