"""month close: the month's claim, holds, who sent, the sender's process, exception settings

Revision ID: 0013
Revises: 0015
Create Date: 2026-11-27 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0013"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "month_close",
        sa.Column("period", _STR(length=7), nullable=False),
        sa.Column("run_by", _STR(length=64), nullable=False),
        sa.Column("claimed_by", _STR(length=100), nullable=False),
        sa.Column("claimed_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("scheduled_for", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ran_late", sa.Boolean(), nullable=False),
        sa.Column("finished_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("send_all_by", _STR(length=64), nullable=True),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_month_close")),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_claimed_by", _STR(length=100), nullable=True))
        batch_op.add_column(sa.Column("sent_by", _STR(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_at", models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("held_by", _STR(length=64), nullable=True))
        batch_op.add_column(sa.Column("held_reason", _STR(length=300), nullable=True))
    with op.batch_alter_table("billing_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("change_threshold_pct", sa.Integer(), nullable=False, server_default="20")
        )
        batch_op.add_column(sa.Column("four_eyes", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("billing_settings", schema=None) as batch_op:
        batch_op.drop_column("four_eyes")
        batch_op.drop_column("change_threshold_pct")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("held_reason")
        batch_op.drop_column("held_by")
        batch_op.drop_column("held_at")
        batch_op.drop_column("sent_by")
        batch_op.drop_column("send_claimed_by")
    op.drop_table("month_close")
