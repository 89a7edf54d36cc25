"""one business time zone: drop billing_settings.timezone

REBILL_TIMEZONE is the one source of the business time zone (issue 11). The column was read
first by rendering, delivery and reminders while Slack, the jobs and the CLI read the
environment; nothing ever wrote it, so no value is lost.

Revision ID: 0020
Revises: 0019_name_key
Create Date: 2026-11-27 23:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019_name_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("billing_settings", schema=None) as batch_op:
        batch_op.drop_column("timezone")


def downgrade() -> None:
    # Rebuilt (not ALTERed) so the column comes back in its old place, as 0001 made it.
    with op.batch_alter_table("billing_settings", schema=None, recreate="always") as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True), insert_after="alert_channel_id")
