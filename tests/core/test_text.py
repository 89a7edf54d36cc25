"""Control characters are removed from every text field people type (issue 10, item 8)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.cli import main
from core.billing_settings import validate_basics, validate_more
from core.charge_validation import validate_once_off, validate_recurring_charge, validate_service
from core.customer_validation import validate_customer
from core.text import ascii_digits, clean_text
from models.customers import EndCustomer
from tests import factories
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import VALID, form_values, open_new_form

NASTY = "Acme\x00 \x1b[2J\tPlumbing\u202e\u2066 \x85Co\x7f\u200f"


def test_clean_text() -> None:
    assert clean_text(NASTY) == "Acme [2J Plumbing Co"
    assert clean_text("\x00\u202e  ") is None
    assert (
        clean_text("Pay to:\r\n  BSB 062-000\x00\n\nAcc 1234 ", multiline=True)
        == "Pay to:\nBSB 062-000\nAcc 1234"
    )
    assert clean_text("Cafe\u0301") == "Café"  # NFC
    assert (
        ascii_digits("2026") and not ascii_digits("²") and not ascii_digits("٢٠٢٦") and not ascii_digits("")
    )


def test_every_validator_uses_it() -> None:
    assert validate_customer({"company_name": NASTY, "city": "Syd\x00ney"}).city == "Sydney"
    assert validate_service(name=NASTY, start_date="2026-11-01").name == "Acme [2J Plumbing Co"
    charge = validate_recurring_charge(
        description=NASTY, unit_price="1", quantity="1", frequency="monthly", effective_from="2026-11-01"
    )
    assert charge.description == "Acme [2J Plumbing Co"
    item = validate_once_off(description="Router\x00", unit_price="1", quantity="1", item_date="2026-11-01")
    assert item.description == "Router"
    basics = validate_basics(
        {
            "business_name": NASTY,
            "default_payment_terms_days": "30",
            "invoice_prefix": "INV-\x00",
            "invoice_start_number": "1",
        }
    )
    assert (basics.business_name, basics.invoice_prefix) == ("Acme [2J Plumbing Co", "INV-")
    more = validate_more(
        {"payment_instructions": "BSB\x00 062\nAcc\u202e 1", "business_address": "1 George\x1b St"}
    )
    assert (more.payment_instructions, more.business_address) == ("BSB 062\nAcc 1", "1 George St")


def test_a_nul_in_a_modal_is_removed_not_a_database_error(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    form = open_new_form(slack, fake_slack)
    response = slack.view_submission(form, form_values(**(VALID | {"company_name": NASTY})))
    assert response.json()["response_action"] == "update"
    with Session(engine) as db:
        [customer] = db.exec(select(EndCustomer)).all()
    assert customer.company_name == "Acme [2J Plumbing Co"


def test_the_cli_prints_imported_names_without_escape_sequences(
    engine: Engine,
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "in.csv"
    source.write_text('company_name,city\n"Evil\x1b]0;pwned\x07 Co","\x1b[31mRed"\n', encoding="utf-8")
    env = {"DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    runner = CliRunner()
    assert runner.invoke(main, ["customers", "import", "--csv", str(source)], env=env).exit_code == 0
    listed = runner.invoke(main, ["customers", "list"], env=env)
    assert listed.exit_code == 0 and "Evil]0;pwned Co" in listed.output
    assert "\x1b" not in listed.output and "\x07" not in listed.output
