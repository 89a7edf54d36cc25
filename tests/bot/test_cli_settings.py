"""`rebill-bot settings show|set`: the Slack modal's rules and audit, without Slack."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core import settings_keys
from handlers.setup import settings_modal
from models.system import AuditLog, BillingSettings
from tests.harness.cli import clean_env, run

BASICS = ["business_name=Acme IT", "default_payment_terms_days=14", "invoice_prefix=INV-"]


def test_set_validates_like_the_modal_and_saves_nothing_on_any_error(engine: Engine, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=engine.url.render_as_string(hide_password=False))
    bad = run(
        ["settings", "set", "business_name=Acme IT", "default_payment_terms_days=400", "tax_rate=abc"],
        env,
        tmp_path,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "default_payment_terms_days: Payment terms must be a whole number" in bad.stderr
    assert "tax_rate: GST rate is a percentage" in bad.stderr
    assert "invoice_prefix: Invoice prefix is required" in bad.stderr
    assert "Nothing was saved" in bad.stderr and "Traceback" not in bad.stderr
    with Session(engine) as db:
        assert db.exec(select(AuditLog)).all() == []

    unknown = run(["settings", "set", *BASICS, "colour=blue"], env, tmp_path)
    assert unknown.returncode == 2 and "colour: no such setting" in unknown.stderr
    assert run(["settings", "set", "business_name"], env, tmp_path).returncode == 2

    ok = run(["settings", "set", *BASICS, "tax_rate=12.5", "auto_approve=yes"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "business_name: (unset) → Acme IT" in ok.stdout
    with Session(engine) as db:
        row = db.get(BillingSettings, 1)
        assert row is not None
        assert (row.business_name, row.tax_rate, row.auto_approve) == ("Acme IT", Decimal("0.125"), True)
        assert row.configured_at is not None and row.updated_by is not None
        assert row.updated_by.startswith("cli:")
        (entry,) = db.exec(select(AuditLog).where(AuditLog.entity == "settings")).all()
        assert entry.actor.startswith("cli:") and entry.changes["business_name"] == [None, "Acme IT"]

    again = run(["settings", "set", "business_name=Acme IT"], env, tmp_path)
    assert again.returncode == 0 and "nothing changed" in again.stdout


def test_show_json_restores_through_set_from(engine: Engine, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=engine.url.render_as_string(hide_password=False))
    fresh = run(["settings", "show"], env, tmp_path)
    assert fresh.returncode == 0 and "Billing isn't set up yet" in fresh.stderr
    assert "set business_name, default_payment_terms_days, invoice_prefix." in fresh.stderr
    assert (
        run(
            ["settings", "set", *BASICS, "next_invoice_number=500", "business_address=Level 1\nSydney"],
            env,
            tmp_path,
        ).returncode
        == 0
    )
    saved = run(["settings", "show", "--json"], env, tmp_path)
    values = json.loads(saved.stdout)
    assert values["next_invoice_number"] == "500" and values["tax_rate"] == "10"
    assert values["business_address"] == "Level 1\nSydney" and values["auto_send"] is False
    assert list(values) == [key.name for key in settings_keys.KEYS]
    (tmp_path / "saved.json").write_text(saved.stdout)

    assert run(["settings", "set", "business_name=Other", "currency=NZD"], env, tmp_path).returncode == 0
    restored = run(["settings", "set", "--from", str(tmp_path / "saved.json"), "--json"], env, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout) == values

    lower = run(["settings", "set", "next_invoice_number=20"], env, tmp_path)
    assert lower.returncode == 1 and "next_invoice_number: " in lower.stderr


def test_every_field_of_the_slack_settings_modal_has_a_cli_key() -> None:
    """A setting added to the modal but not to settings_keys.KEYS fails here, not in a user's script."""
    view = settings_modal(BillingSettings(id=1), first_time=False, origin={}, next_number=1)
    fields = {block["block_id"] for block in view["blocks"] if block.get("type") == "input"}
    flags = {
        option["value"]
        for block in view["blocks"]
        if block.get("block_id") == settings_keys.FLAGS_FIELD
        for option in block["element"]["options"]
    }
    keyed = {key.form_field for key in settings_keys.KEYS}
    assert (fields - {settings_keys.FLAGS_FIELD}) | flags == keyed


def test_ledger_settings_set_and_show(engine: Engine, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=engine.url.render_as_string(hide_password=False))
    assert run(["settings", "set", *BASICS], env, tmp_path).returncode == 0
    values = json.loads(run(["settings", "show", "--json"], env, tmp_path).stdout)
    assert (values["credit_note_prefix"], values["back_billing_months"]) == ("CN-", "3")

    bad = run(["settings", "set", "credit_note_prefix=INV-", "back_billing_months=30"], env, tmp_path)
    assert bad.returncode == 1
    assert "credit_note_prefix: Use a prefix other than the invoice prefix" in bad.stderr
    assert (
        "back_billing_months: The back-billing horizon (months) must be a whole number from 0 to 24."
        in bad.stderr
    )

    ok = run(["settings", "set", "credit_note_prefix=ADJ-", "back_billing_months=12"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "credit_note_prefix: CN- → ADJ-" in ok.stdout and "back_billing_months: 3 → 12" in ok.stdout
    shown = run(["settings", "show"], env, tmp_path).stdout
    assert "credit_note_prefix" in shown and "ADJ-" in shown and "Back-billing horizon" in shown
    with Session(engine) as db:
        row = db.get(BillingSettings, 1)
        assert row is not None and (row.credit_note_prefix, row.back_billing_months) == ("ADJ-", 12)


def test_each_settings_key_is_named_once() -> None:
    """Two entries under one name would let the later one silently shadow the earlier."""
    from core.settings_keys import BY_NAME, KEYS

    assert len(BY_NAME) == len(KEYS), sorted(k.name for k in KEYS)
