"""psa company email: HaloPSA's accountsemailaddress, kept in the company cache for imports

Revision ID: 0014
Revises: 0005
Create Date: 2026-11-27 20:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0014'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('psa_company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('psa_company', schema=None) as batch_op:
        batch_op.drop_column('email')
