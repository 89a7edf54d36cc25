"""`rebill-bot xero ...` in-process through click, against the fake Xero, on both databases."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from bot.cli import main
from core.clock import DEFAULT_TIMEZONE
from tests.harness.fake_xero import FakeXero
from tests.harness.smtp import free_port
from tests.harness.xero_setup import billed_month

BROWSER = Path(__file__).with_name("xero_browser.py")


@pytest.fixture
def fake() -> Iterator[FakeXero]:
    server = FakeXero().start()
    yield server
    server.stop()
    assert server.violations == []


@pytest.fixture
def cli(engine: Engine, fake: FakeXero, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    base = {
        "DATABASE_URL": url,
        "REBILL_TIMEZONE": DEFAULT_TIMEZONE,
        "XERO_CLIENT_ID": fake.client_id,
        "XERO_CLIENT_SECRET": fake.client_secret,
        "XERO_IDENTITY_URL": fake.base_url,
        "XERO_AUTHORIZE_URL": fake.authorize_url,
        "XERO_API_URL": fake.api_url,
        "XERO_CONNECTIONS_URL": fake.connections_url,
    }

    def invoke(*args: str, **env: str | None) -> Result:
        return CliRunner().invoke(main, list(args), env={**base, **env})

    return invoke


def test_check_settings_push_and_pull_payments(cli, engine: Engine, fake: FakeXero) -> None:  # type: ignore[no-untyped-def]
    checked = cli("xero", "check")
    assert checked.exit_code == 0, checked.output
    assert "organisation 'Demo MSP Pty Ltd'" in checked.output and "custom connection" in checked.output
    assert "4999 of 5000 calls left today" in checked.output
    numbers = billed_month(engine, ["Alpha Dental", "Bravo Legal", "Charlie Cafe"])
    unmapped = cli("xero", "push")
    assert unmapped.exit_code == 1 and "Set the Xero sales account code" in unmapped.output
    bad = cli("xero", "settings", "--account-code", "999")
    assert bad.exit_code == 1 and "Xero has no revenue account '999'" in bad.output
    mapped = cli("xero", "settings", "--account-code", "200")
    assert mapped.exit_code == 0, mapped.output
    assert "taxable lines: OUTPUT" in mapped.output and "GST-free lines: EXEMPTOUTPUT" in mapped.output
    one = cli("xero", "push", numbers["Alpha Dental"])
    assert one.exit_code == 0 and f"{numbers['Alpha Dental']}: pushed" in one.output
    rest = cli("xero", "push", "--period", "2026-12")
    assert rest.exit_code == 0 and "2 pushed" in rest.output
    fake.record_payment(
        numbers["Bravo Legal"], fake.by_number(numbers["Bravo Legal"])[0].total, date(2026, 12, 9)
    )
    pulled = cli("xero", "pull-payments", "--json")
    assert pulled.exit_code == 0, pulled.output
    assert json.loads(pulled.output)["paid"] == [numbers["Bravo Legal"]]
    shown = cli("invoice", "show", numbers["Bravo Legal"])
    assert "paid" in shown.output


def test_not_configured_exits_2(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("xero", "push", XERO_CLIENT_ID="")
    assert result.exit_code == 2 and "Xero is not configured: set XERO_CLIENT_ID" in result.output
    checked = cli("xero", "check", XERO_CLIENT_ID="")
    assert (
        checked.exit_code == 0
        and "not configured (XERO_CLIENT_ID unset): use the CSV export" in checked.output
    )


def test_connect_a_standard_app_through_the_browser(cli, fake: FakeXero) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {
        "XERO_CONNECTION": "standard",
        "XERO_REDIRECT_URI": f"http://127.0.0.1:{port}/callback",
        "BROWSER": f"{sys.executable} {BROWSER} %s",
    }
    result = cli("xero", "connect", "--timeout", "20", **env)
    assert result.exit_code == 0, result.output
    assert "Connected to Xero organisation 'Demo MSP Pty Ltd'" in result.output
    assert fake.token_grants == ["authorization_code"]
    checked = cli("xero", "check", **env)
    assert checked.exit_code == 0 and "standard connection" in checked.output
