"""`rebill-bot settings show|set`: the global billing settings without Slack.

A fresh database can be configured, scripted or restored from a saved `show --json`. The keys are
`core.settings_keys.KEYS` (add a setting there and it appears here); writes go through the Slack
settings modal's own validation and audit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from core import billing_settings, settings_keys
from core.db import session_scope
from core.errors import FieldErrors


@click.group("settings")
def settings_group() -> None:
    """Show or change the global billing settings (the same ones as /rebill settings in Slack)."""


def _print(values: dict[str, object], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(values, indent=2, ensure_ascii=False))
        return
    width = max(len(name) for name in values)
    for name, value in values.items():
        shown = "(unset)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        shown = shown.replace("\n", "\\n")
        click.echo(f"{name:<{width}}  {shown:<24}  {settings_keys.BY_NAME[name].label}")


@settings_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (what `set --from` takes).")
@pass_cli
def settings_show(cli: CliContext, as_json: bool) -> None:
    """Every setting, its value and what it is."""
    with session_scope(cli.engine) as db:
        values = settings_keys.current(db)
        missing = billing_settings.missing(billing_settings.load(db))
    _print(values, as_json)
    if missing and not as_json:
        names = ", ".join(
            key.name
            for f in missing
            if (key := settings_keys.BY_FIELD.get(f)) is not None and values[key.name] is None
        )
        click.echo(f"\nBilling isn't set up yet: set {names}.", err=True)


@settings_group.command("set")
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON object of settings, as `settings show --json` prints; KEY=VALUE pairs win over it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every setting as JSON afterwards.")
@pass_cli
def settings_set(cli: CliContext, assignments: tuple[str, ...], source: Path | None, as_json: bool) -> None:
    """Change settings, with the same checks as in Slack; nothing is saved unless all are valid.

    Example: rebill-bot settings set business_name="Acme IT" default_payment_terms_days=14
    invoice_prefix=INV- next_invoice_number=1
    """
    changes: dict[str, object] = {}
    if source is not None:
        try:
            loaded = json.loads(source.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise Failure(f"{source} is not a JSON object of settings ({exc}).", code=2) from None
        if not isinstance(loaded, dict):
            raise Failure(f"{source} is not a JSON object of settings.", code=2)
        changes |= loaded
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise Failure(f"{item!r} is not KEY=VALUE (see `rebill-bot settings show` for the keys).", code=2)
        changes[name.strip()] = value
    if not changes:
        raise Failure("Nothing to set: give KEY=VALUE pairs or --from FILE.", code=2)
    try:
        with session_scope(cli.engine) as db:
            changed = settings_keys.update(db, changes, actor=cli.actor, clock=cli.clock)  # type: ignore[arg-type]
            values = settings_keys.current(db)
    except FieldErrors as exc:  # one line per key (the error wrapper would join them into one)
        for name, message in exc.errors.items():
            click.echo(f"{name}: {message}", err=True)
        click.echo("Nothing was saved.", err=True)
        sys.exit(2 if isinstance(exc, settings_keys.UnknownKeys) else 1)
    if as_json:
        click.echo(json.dumps(values, indent=2, ensure_ascii=False))
    elif changed:
        for name, (before, after) in changed.items():
            click.echo(f"{name}: {_shown(before)} → {_shown(after)}")
        click.echo(f"saved {len(changed)} setting(s)")
    else:
        click.echo("nothing changed")


def _shown(value: object) -> str:
    if value is None:
        return "(unset)"
    return str(value).lower() if isinstance(value, bool) else str(value)


def register(main: click.Group) -> None:
    main.add_command(settings_group)
