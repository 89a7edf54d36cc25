"""README's command table is a promise: every command `rebill-bot` has is in it, with every option
(`--version` included; hidden options and `--help` excepted)."""

from __future__ import annotations

import re

import click

from bot.cli import main
from tests.conftest import REPO


def commands(group: click.Group, path: str = "rebill-bot") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out |= commands(command, f"{path} {name}")
        else:
            out[f"{path} {name}"] = command
    return out


def documented() -> dict[str, str]:
    """Each command in the table's first column, with the usage written beside it."""
    section = REPO.joinpath("README.md").read_text().split("## Command line", 1)[1].split("\n## ", 1)[0]
    usages: dict[str, str] = {}
    for row in section.splitlines():
        if not row.startswith("| `rebill-bot"):
            continue
        first_cell = re.split(r"(?<!\\)\|", row)[1]
        for piece in re.findall(r"`([^`]+)`", first_cell):
            text = piece if piece.startswith("rebill-bot") else f"rebill-bot {piece}"
            words = [w for w in text.split() if re.fullmatch(r"[a-z][a-z-]*", w)]
            key = " ".join(words)
            usages[key] = f"{usages.get(key, '')} {text}".strip()
    return usages


def test_every_command_and_option_is_in_the_readme() -> None:
    usages = documented()
    missing = []
    for path, command in ({"rebill-bot": main} | commands(main)).items():
        usage = usages.get(path)
        if usage is None:
            missing.append(path)
            continue
        tokens = set(re.findall(r"-{1,2}[a-z][a-z-]*", usage))
        for param in command.params:
            shown = isinstance(param, click.Option) and not param.hidden and param.name != "help"
            if shown and not tokens & set(param.opts):
                missing.append(f"{path} {'/'.join(param.opts)}")
    assert missing == [], f"add these to README's command table: {missing}"
