"""`rebill-bot psa ...`: check the PSA credentials, refresh and sync, search the company cache."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from bot.cli.context import CliContext, pass_cli
from bot.cli.failure import Failure
from core import psa_service
from core.db import session_scope
from core.errors import RebillError
from core.psa_cache import search_cache
from integrations.config import PsaSettings, make_client


def _psa(cli: CliContext) -> PsaSettings:
    """The PSA settings, or a refusal when none is configured (every command here needs one)."""
    psa = cli.psa
    if psa.rebill_psa is None:
        raise Failure("No PSA is configured: set REBILL_PSA to autotask, connectwise or halopsa.", code=2)
    return psa


class _Counting:
    """Wraps a PSA client to show progress while the cache streams in (the total is unknown)."""

    def __init__(self, client: Any, show: bool) -> None:
        self._client, self._show, self.count = client, show, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def iter_companies(self) -> Iterator[Any]:
        for company in self._client.iter_companies():
            self.count += 1
            if self._show and self.count % 250 == 0:
                click.echo(f"\rfetched {self.count:,} companies", nl=False)
            yield company


def _progress_shown(show: bool, counters: list[_Counting]) -> bool:
    return show and bool(counters) and counters[0].count >= 250


@click.group("psa")
def psa_group() -> None:
    """The PSA integration (Autotask, ConnectWise PSA or HaloPSA)."""


@psa_group.command("check")
@pass_cli
def psa_check(cli: CliContext) -> None:
    """Test the PSA credentials."""
    client = make_client(_psa(cli))
    assert client is not None
    try:
        click.echo(f"✓ {client.check()}")
    except RebillError as exc:
        click.echo(f"✗ {exc.user_message}", err=True)
        sys.exit(1)
    finally:
        client.close()


@psa_group.command("sync")
@pass_cli
def psa_sync(cli: CliContext) -> None:
    """Refresh the company cache from the PSA, then resync every linked customer."""
    psa = _psa(cli)
    show = sys.stdout.isatty()
    counters: list[_Counting] = []

    def counting(client: Any) -> Any:
        counters.append(_Counting(client, show=show))
        return counters[-1]

    try:
        report = psa_service.refresh_and_sync(
            cli.engine, psa, actor=cli.actor, clock=cli.clock, wrap=counting
        )
    except RebillError as exc:
        if _progress_shown(show, counters):
            click.echo("", err=True)  # end the progress line
        raise Failure(f"refresh failed, the previous company list is kept: {exc.user_message}") from None
    if _progress_shown(show, counters):
        click.echo("")
    result = report.synced
    click.echo(f"cached {report.refreshed.company_count:,} active companies")
    click.echo(
        f"synced {result.checked} linked customer(s): {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.deactivated} now inactive in the PSA, {result.reactivated} active again"
    )
    for change in result.changes:
        click.echo(f"  customer {change.customer_id} {change.name}: {'; '.join(change.describe())}")
    for customer_id in result.name_conflicts:
        click.echo(
            f"  customer {customer_id}: the PSA's new name is taken by another customer; kept the old one"
        )


@psa_group.command("search")
@click.argument("text")
@pass_cli
def psa_search(cli: CliContext, text: str) -> None:
    """Search the cached PSA companies (filled from the PSA first if empty)."""
    psa = _psa(cli)
    psa_service.ensure_cache(cli.engine, psa, clock=cli.clock)
    with session_scope(cli.engine) as db:
        rows = search_cache(db=db, psa_kind=psa.rebill_psa, text=text, limit=100)
        for row in rows:
            where = ", ".join(p for p in (row.city, row.state, row.country) if p)
            click.echo(f"{row.psa_id:>10}  {row.name}" + (f"  ({where})" if where else ""))
    click.echo(f"{len(rows)} match(es)")


def register(main: click.Group) -> None:
    main.add_command(psa_group)
