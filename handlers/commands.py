"""The single `/rebill` command: a router over subcommands that feature modules declare."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from handlers.base import Call, listener
from handlers.setup_prompt import ensure_configured
from handlers.subcommands import COMMAND, find, help_blocks, help_text, subcommand


@subcommand("help", usage="help", summary="show this list of commands", reads_only=True)
def show_help(call: Call, args: str) -> None:
    call.ack(response_type="ephemeral", text=help_text(), blocks=help_blocks())


def route(call: Call) -> None:
    text = (call.body.get("text") or "").strip()
    word, _, rest = text.partition(" ")
    sub = find(word) if word else None
    if sub is None and not word and not ensure_configured(call):
        return
    if sub is None:
        call.ack(response_type="ephemeral", text=help_text(), blocks=help_blocks(word or None))
        return
    sub.run(call, rest.strip())


def route_writes(body: dict[str, Any]) -> bool:
    """Help and unknown words only read; a subcommand says whether it writes."""
    word = (body.get("text") or "").strip().partition(" ")[0]
    sub = find(word) if word else None
    return sub is not None and not sub.reads_only


def register(app: App) -> None:
    app.command(COMMAND)(listener(route, writes=route_writes))
