"""The single `/rebill` command: a router over subcommands that feature modules declare."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App

from handlers import blocks
from handlers.base import Call, listener

COMMAND = "/rebill"


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    summary: str
    run: Callable[[Call, str], None]
    aliases: tuple[str, ...] = ()
    reads_only: bool = False  # True: a read-only DB session that never waits for a writer (SQLite)


# Declared at import time by feature modules; pure definitions, no per-request state.
SUBCOMMANDS: dict[str, Subcommand] = {}
_ALIASES: dict[str, str] = {}


def subcommand(
    name: str, *, usage: str, summary: str, aliases: tuple[str, ...] = (), reads_only: bool = False
) -> Callable[[Callable[[Call, str], None]], Callable[[Call, str], None]]:
    def decorate(fn: Callable[[Call, str], None]) -> Callable[[Call, str], None]:
        SUBCOMMANDS[name] = Subcommand(name, usage, summary, fn, aliases, reads_only)
        for alias in aliases:
            _ALIASES[alias] = name
        return fn

    return decorate


def find(word: str) -> Subcommand | None:
    word = word.lower()
    return SUBCOMMANDS.get(_ALIASES.get(word, word))


def help_blocks(unknown: str | None = None) -> list[blocks.Block]:
    lines = [
        f"`{COMMAND} {sub.usage}`: {sub.summary}"
        for sub in sorted(SUBCOMMANDS.values(), key=lambda s: s.name)
    ]
    out: list[blocks.Block] = []
    if unknown:
        out.append(
            blocks.section(f":grey_question: I don't know `{blocks.esc(unknown)}`. Here is what I can do:")
        )
    out.append(blocks.section("*rebill-bot*: bill your end customers from Slack.\n" + "\n".join(lines)))
    return out


def help_text() -> str:
    return "rebill-bot usage:\n" + "\n".join(
        f"{COMMAND} {sub.usage}: {sub.summary}" for sub in sorted(SUBCOMMANDS.values(), key=lambda s: s.name)
    )


@subcommand("help", usage="help", summary="show this list of commands", reads_only=True)
def show_help(call: Call, args: str) -> None:
    call.ack(response_type="ephemeral", text=help_text(), blocks=help_blocks())


def route(call: Call) -> None:
    text = (call.body.get("text") or "").strip()
    word, _, rest = text.partition(" ")
    sub = find(word) if word else None
    if sub is None and not word:
        from handlers.setup import ensure_configured

        if not ensure_configured(call):
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
