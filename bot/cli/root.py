"""`rebill-bot`, the root group: every feature module attaches its commands to `main`."""

from __future__ import annotations

import click

from bot.cli.context import CliContext
from bot.cli.errors import RebillGroup


@click.group("rebill-bot", cls=RebillGroup)
@click.version_option(package_name="rebill-bot", prog_name="rebill-bot")
@click.pass_context
def main(ctx: click.Context) -> None:
    """rebill-bot: rebill your end customers from Slack."""
    cli = ctx.ensure_object(CliContext)
    ctx.call_on_close(cli.close)
