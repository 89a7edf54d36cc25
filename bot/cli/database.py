"""`rebill-bot db upgrade`: the schema, from DATABASE_URL alone (no Slack secrets needed)."""

from __future__ import annotations

import click

from bot.cli.context import CliContext, pass_cli


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Apply pending migrations (a no-op when up to date)."""
    # Imported here, not at the top: Alembic (and Mako) add a fifth of a second to every
    # command's start-up, and only the commands that migrate need them (bench/cli_startup.py).
    from bot import migrate

    before, after = migrate.upgrade(cli.engine)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


def register(main: click.Group) -> None:
    main.add_command(db_group)
