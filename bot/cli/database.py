"""`rebill-bot db upgrade`: the schema, from DATABASE_URL alone (no Slack secrets needed)."""

from __future__ import annotations

import click

from bot import migrate
from bot.cli.context import CliContext, pass_cli


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Apply pending migrations (a no-op when up to date)."""
    before, after = migrate.upgrade(cli.engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


def register(main: click.Group) -> None:
    main.add_command(db_group)
