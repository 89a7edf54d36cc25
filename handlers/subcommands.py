"""The `/rebill` subcommands that feature modules declare, and the help listing them.

Below every feature module and `handlers.commands` (the router): a feature declares its
subcommand here without importing the router, so no feature module imports another's listeners.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from handlers import blocks
from handlers.base import Call

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
