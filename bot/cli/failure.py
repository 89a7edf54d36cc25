"""`Failure`: an expected failure of a command, as the one line a person reads and an exit code."""

from __future__ import annotations

from typing import IO, Any

import click


def one_line(text: str) -> str:
    """Messages built elsewhere (a settings report, a database driver's error) may span lines; a
    command's failure is read as one line on stderr, so the lines are joined with "; "."""
    lines = [line.strip().removeprefix("- ").strip() for line in str(text).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "failed"
    head, rest = lines[0], lines[1:]
    if rest and head.endswith(":"):
        return f"{head} {'; '.join(rest)}"
    return "; ".join(lines)


class Failure(click.ClickException):
    """Shown as its message alone (no "Error:" prefix, no usage), on stderr, then exit `code`:
    1 when the command failed, 2 when the configuration or the command line must be fixed."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(one_line(message))
        self.exit_code = code

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.message, err=file is None, file=file)
