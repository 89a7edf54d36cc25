"""invoice held catch-up: unbilled days older than the back-billing horizon, as found when billed

The month close lists them as an exception on the customer's invoice (a person decides), and its
report is rebuilt from what is stored, so the amount is kept on the invoice rather than
recomputed on every redraw.

Revision ID: 0018
Revises: 0016
Create Date: 2026-11-27 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ALTER: rebuilding `invoice` on SQLite is refused once invoice_line references it.
    op.add_column("invoice", sa.Column("held_catch_up", sa.Numeric(precision=14, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("held_catch_up")
