"""billing ledger: coverage on invoice lines, charge versions, credit notes, per-line tax

Existing recurring lines become the ledger's first entries: their periods were always stored, so
giving them their charge (source_id) and version 1 makes every day they billed count as covered,
and upgrading bills no day twice.

Revision ID: 0012
Revises: 0013
Create Date: 2026-11-27 20:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0012"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_LIVE = "status <> 'void'"
_NEW_LIVE = "status <> 'void' AND doc_type = 'invoice'"


def upgrade() -> None:
    op.create_table(
        "charge_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["recurring_charge.id"], name=op.f("fk_charge_version_charge_id_recurring_charge")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charge_version")),
        sa.UniqueConstraint("charge_id", "version", name="uq_charge_version_charge_version"),
    )
    with op.batch_alter_table("charge_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_charge_version_charge_id"), ["charge_id"], unique=False)

    # Plain ALTERs, no batch mode: rebuilding `invoice` on SQLite would drop a table that
    # invoice_line references, which foreign keys (on in core.db) forbid once there is data.
    op.add_column(
        "invoice",
        sa.Column(
            "doc_type", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="invoice", nullable=False
        ),
    )
    op.add_column("invoice", sa.Column("credits_invoice_id", sa.Integer(), nullable=True))
    op.add_column("invoice", sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
    op.drop_index("uq_invoice_customer_period_live", table_name="invoice")
    op.create_index(
        "uq_invoice_customer_period_live",
        "invoice",
        ["customer_id", "period"],
        unique=True,
        sqlite_where=sa.text(_NEW_LIVE),
        postgresql_where=sa.text(_NEW_LIVE),
    )
    op.add_column("invoice_line", sa.Column("charge_id", sa.Integer(), nullable=True))
    op.add_column("invoice_line", sa.Column("charge_version", sa.Integer(), nullable=True))
    op.add_column(
        "invoice_line", sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
    )
    op.add_column("invoice_line", sa.Column("tax", sa.Numeric(precision=14, scale=2), nullable=True))
    op.add_column("invoice_line", sa.Column("credits_line_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_invoice_line_charge_id"), "invoice_line", ["charge_id"], unique=False)
    op.add_column(
        "billing_settings",
        sa.Column(
            "credit_note_prefix",
            sqlmodel.sql.sqltypes.AutoString(length=20),
            server_default="CN-",
            nullable=False,
        ),
    )
    op.add_column(
        "billing_settings", sa.Column("back_billing_months", sa.Integer(), server_default="3", nullable=False)
    )

    # The ledger's first entries: every recurring line already billed its charge's stored period.
    op.execute(
        "UPDATE invoice_line SET charge_id = source_id, charge_version = 1 "
        "WHERE kind = 'recurring' AND source_id IS NOT NULL AND period_start IS NOT NULL"
    )


def downgrade() -> None:
    # Dropping columns needs batch mode on SQLite (a table rebuild); downgrading a populated SQLite
    # database therefore needs foreign keys off, as for any rebuild.
    with op.batch_alter_table("billing_settings", schema=None) as batch_op:
        batch_op.drop_column("back_billing_months")
        batch_op.drop_column("credit_note_prefix")
    op.drop_index(op.f("ix_invoice_line_charge_id"), table_name="invoice_line")
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        for name in ("credits_line_id", "tax", "reason", "charge_version", "charge_id"):
            batch_op.drop_column(name)
    op.drop_index("uq_invoice_customer_period_live", table_name="invoice")
    op.create_index(
        "uq_invoice_customer_period_live",
        "invoice",
        ["customer_id", "period"],
        unique=True,
        sqlite_where=sa.text(_OLD_LIVE),
        postgresql_where=sa.text(_OLD_LIVE),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        for name in ("reason", "credits_invoice_id", "doc_type"):
            batch_op.drop_column(name)
    with op.batch_alter_table("charge_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_charge_version_charge_id"))
    op.drop_table("charge_version")
