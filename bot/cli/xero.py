"""`rebill-bot xero connect|check|settings|push|pull-payments`: Xero from a terminal.

Thin: parse, call `core.xero_sync` / `core.xero_settings` / `integrations.xero_auth`, print.
Needs only the database and the XERO_* variables (no Slack secrets). Expected failures end with
one line on stderr and exit status 1 (2 when Xero is not configured at all).
"""

from __future__ import annotations

import json
import sys
import threading
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from bot.cli.params import PERIOD
from core import xero_payments, xero_sync
from core import xero_settings as service
from core.calculation import Period
from core.db import session_scope
from core.xero_api import xero_client
from core.xero_tokens import finish_authorization
from integrations.xero import XeroClient
from integrations.xero_auth import (
    XeroAuthError,
    XeroConfig,
    XeroError,
    begin_authorization,
    load_xero_config,
    wait_for_callback,
)


def _config() -> XeroConfig:
    try:
        config = load_xero_config()
    except XeroError as exc:
        raise Failure(exc.user_message, code=2) from None
    if config is None:
        raise Failure(
            "Xero is not configured: set XERO_CLIENT_ID (and XERO_CLIENT_SECRET); see README, Xero.", code=2
        )
    return config


@contextmanager
def _client(cli: CliContext) -> Iterator[XeroClient]:
    config = _config()
    with xero_client(engine=cli.engine, config=config, clock=cli.clock) as client:
        yield client


@click.group("xero")
def xero_group() -> None:
    """Xero: connect, check, map codes, push invoices, read payments back."""


@xero_group.command("connect")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the sign-in.")
@pass_cli
def xero_connect(cli: CliContext, timeout: int) -> None:
    """Connect a standard Xero app: sign in in the browser; the refresh token is kept in the database."""
    config = _config()
    if config.kind == "custom":
        click.echo(
            "XERO_CONNECTION=custom needs no sign-in: the client id and secret are enough. Try `rebill-bot xero check`."
        )
        return
    auth = begin_authorization(config)
    ready = threading.Event()
    got: list[str] = []
    failed: list[Exception] = []

    def serve() -> None:
        try:
            got.append(wait_for_callback(config.redirect_uri, timeout=timeout, ready=ready))
        except Exception as exc:
            failed.append(exc)
            ready.set()

    listener = threading.Thread(target=serve, daemon=True)
    listener.start()
    ready.wait(10)
    click.echo(f"Sign in to Xero and choose the organisation:\n  {auth.url}")
    webbrowser.open(auth.url)
    listener.join(timeout + 5)
    if failed:
        raise failed[0]
    if not got:
        raise XeroAuthError("No answer from Xero: run `rebill-bot xero connect` again.")
    row = finish_authorization(cli.engine, config, auth, got[0], clock=cli.clock)
    click.echo(
        f"Connected to Xero organisation {row.tenant_name!r}; the refresh token is stored (it rotates on use)."
    )


@xero_group.command("check")
@pass_cli
def xero_check(cli: CliContext) -> None:
    """The organisation's name, the token's state and the calls left today."""
    # Imported here: the checks module loads every service's client (slack_sdk, Alembic) for
    # `rebill-bot check`; this command needs its Xero line alone.
    from bot.checks import check_xero

    result = check_xero(cli.database_url)
    click.echo(f"{'✓' if result.ok else '✗'} xero: {result.detail}", err=not result.ok)
    sys.exit(0 if result.ok else 1)


@xero_group.command("settings")
@click.option("--account-code", help="Sales account code (from Xero's chart of accounts).")
@click.option("--tax-taxable", help="Tax type for taxable lines (default: the organisation's GST on Income).")
@click.option("--tax-free", help="Tax type for GST-free lines (default: the organisation's GST Free Income).")
@click.option(
    "--status",
    type=click.Choice(["DRAFT", "AUTHORISED"], case_sensitive=False),
    help="Status pushed to Xero.",
)
@click.option("--push-mode", type=click.Choice(["approve", "manual"]), help="Push when approved, or by hand.")
@pass_cli
def xero_settings(
    cli: CliContext,
    account_code: str | None,
    tax_taxable: str | None,
    tax_free: str | None,
    status: str | None,
    push_mode: str | None,
) -> None:
    """Show or set the Xero mapping; codes are checked against the organisation's own lists."""
    with _client(cli) as client:
        choices = service.choices_from(client.accounts(), client.tax_rates())
        values = {
            "account_code": account_code,
            "tax_type_taxable": tax_taxable,
            "tax_type_free": tax_free,
            "invoice_status": status,
            "push_mode": push_mode,
        }
        with session_scope(cli.engine) as db:
            row = service.update(db, values, choices=choices, actor=cli.actor, clock=cli.clock)  # type: ignore[arg-type]
            shown = (
                row.account_code,
                row.tax_type_taxable,
                row.tax_type_free,
                row.invoice_status,
                row.push_mode,
            )
    click.echo(
        f"account code: {shown[0] or '(not set)'}\ntaxable lines: {shown[1]}\nGST-free lines: {shown[2]}\n"
        f"status pushed: {shown[3]}\npush: {'when approved' if shown[4] == 'approve' else 'by hand'}"
    )
    if not shown[0]:
        click.echo("Revenue accounts: " + ", ".join(f"{code} {name}" for code, name in choices.accounts))


@xero_group.command("push")
@click.argument("numbers", nargs=-1)
@click.option("--period", type=PERIOD, help="Only this month, e.g. 2026-12.")
@pass_cli
def xero_push(cli: CliContext, numbers: tuple[str, ...], period: Period | None) -> None:
    """Push approved invoices not yet in Xero (or these NUMBERS), and mirror voids."""
    with _client(cli) as client:
        report = xero_sync.push(
            cli.engine,
            client,
            clock=cli.clock,
            refs=list(numbers) or None,
            period=period,
        )
    for number in report.pushed:
        click.echo(f"{number}: pushed")
    for number in report.voided:
        click.echo(f"{number}: voided in Xero")
    for number, reason in {**report.failed, **report.exceptions}.items():
        click.echo(f"{number}: not pushed: {reason}", err=True)
    click.echo(
        f"{len(report.pushed)} pushed, {len(report.voided)} voided, {len(report.failed)} failed, "
        f"{len(report.exceptions)} need a person ({client.requests} Xero call(s))"
    )
    sys.exit(0 if report.ok else 1)


@xero_group.command("pull-payments")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def xero_pull_payments(cli: CliContext, as_json: bool) -> None:
    """Read invoices Xero changed since the last read; mark ours paid or part-paid."""
    with _client(cli) as client:
        report = xero_payments.pull_payments(cli.engine, client, clock=cli.clock, actor=cli.actor)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "read": report.read,
                    "paid": report.paid,
                    "part_paid": report.part_paid,
                    "voided_in_xero": report.voided_in_xero,
                }
            )
        )
        return
    click.echo(
        f"{report.read} invoice(s) changed in Xero; {len(report.paid)} now paid, {len(report.part_paid)} part-paid"
    )
    for number in report.voided_in_xero:
        click.echo(f"{number}: voided in Xero but not here: check it", err=True)


def register(main: click.Group) -> None:
    main.add_command(xero_group)
