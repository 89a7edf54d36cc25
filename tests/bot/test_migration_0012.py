"""Migration 0012 turns the invoice lines already written into the ledger's first entries."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from bot import migrate
from core.db import make_engine


def test_existing_recurring_lines_become_ledger_entries(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")  # the schema before the ledger
    with engine.begin() as db:  # a real customer row, every NOT NULL column of the 0005 schema filled
        columns = db.execute(text("PRAGMA table_info(end_customer)")).all()
        values = {c.name: _filler(c.type) for c in columns if c.notnull and not c.pk}
        values |= {"id": 1, "company_name": "Alpha", "name_key": "alpha"}
        names = ", ".join(values)
        marks = ", ".join(":" + n for n in values)
        db.execute(text(f"INSERT INTO end_customer ({names}) VALUES ({marks})"), values)  # noqa: S608
        db.execute(
            text(
                "INSERT INTO invoice (id, customer_id, period, number, series, sequence, issue_date, due_date, "
                "status, currency, subtotal, tax, total, tax_rate, tax_rounding, payment_terms_days, "
                "customer_name, created_at, created_by, updated_at) VALUES (1, 1, '2026-11', 'INV-1', 'INV-', 1, "
                "'2026-11-01', '2026-11-15', 'sent', 'AUD', 150, 15, 165, 0.1, 'per-invoice-half-up', 14, "
                "'Alpha', '2026-11-01 00:00:00', 'x', '2026-11-01 00:00:00')"
            )
        )
        db.execute(
            text(
                "INSERT INTO invoice_line (id, invoice_id, position, kind, source_id, description, quantity, "
                "unit_price, amount, taxable, period_start, period_end) VALUES "
                "(1, 1, 1, 'recurring', 7, 'NBN', 1, 100, 100, 1, '2026-11-01', '2026-11-30'), "
                "(2, 1, 2, 'once_off', 9, 'Router', 1, 50, 50, 1, '2026-11-03', '2026-11-03')"
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as db:
        rows = db.execute(
            text("SELECT id, charge_id, charge_version, tax FROM invoice_line ORDER BY id")
        ).all()
        doc_type = db.execute(text("SELECT doc_type FROM invoice")).scalar_one()
        prefix, horizon = db.execute(
            text("SELECT credit_note_prefix, back_billing_months FROM billing_settings")
        ).one_or_none() or ("CN-", 3)
    # The recurring line is now the ledger's entry for charge 7, version 1; the once-off line is not.
    assert [(r.id, r.charge_id, r.charge_version) for r in rows] == [(1, 7, 1), (2, None, None)]
    assert doc_type == "invoice" and (prefix, horizon) == ("CN-", 3)
    engine.dispose()


def _filler(sql_type: str) -> object:
    kind = sql_type.upper()
    if "INT" in kind or "BOOL" in kind or "NUMERIC" in kind:
        return 0
    if "DATE" in kind:
        return "2026-11-01 00:00:00"
    return "x"
