"""Periods and dates outside 2000-2100 are refused with a clear message, in Slack and the CLI
(issue 10, item 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.cli import main
from core.calculation import Period
from core.charge_validation import validate_once_off
from core.clock import DEFAULT_TIMEZONE
from core.errors import FieldErrors
from models.invoices import Invoice
from tests.harness.billbook import build_book
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import button_value, pushed, values


@pytest.mark.parametrize("text", ["9999-12", "0001-01", "1999-12", "2101-01"])
def test_periods_outside_the_window_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="from 2000 to 2100"):
        Period.parse(text)


def test_the_window_edges_and_dates() -> None:
    assert str(Period.parse("2000-01")) == "2000-01" and str(Period.parse("2100-12")) == "2100-12"
    with pytest.raises(FieldErrors) as refused:
        validate_once_off(description="Router", unit_price="1", quantity="1", item_date="0001-01-01")
    assert refused.value.errors == {"item_date": "Use a year from 2000 to 2100."}


def test_slack_billrun_and_date_fields(
    slack: SlackSender,
    fake_slack: FakeSlack,
    customer_view: dict[str, Any],
) -> None:
    for period in ("9999-12", "0001-01"):
        assert "is not a month you can bill" in slack.command(f"billrun {period}").json()["text"]
    slack.block_action("service_add", value=button_value(customer_view, "service_add"), view=customer_view)
    errors = slack.view_submission(pushed(fake_slack, 1), values(name="Line", start_date="1900-01-01"))
    assert errors.json()["errors"] == {"start_date": "Use a year from 2000 to 2100."}


def test_cli_billrun_refuses_and_bills_nothing(engine: Engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    build_book(engine)
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REBILL_TIMEZONE": DEFAULT_TIMEZONE,
    }
    for period in ("9999-12", "0001-01"):
        result = CliRunner().invoke(main, ["billrun", "--period", period], env=env)
        assert result.exit_code == 2 and "from 2000 to 2100" in result.output, result.output
        preview = CliRunner().invoke(main, ["charges", "preview", "1", "--period", period], env=env)
        assert preview.exit_code != 0 and "Traceback" not in preview.output
    with Session(engine) as db:
        assert db.exec(select(Invoice)).all() == []
