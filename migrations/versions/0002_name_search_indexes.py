"""name search indexes: trigram GIN on PostgreSQL for substring search on names

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("end_customer", "psa_company")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_name_key")
            batch_op.create_index(
                f"ix_{table}_name_search",
                ["name_key"],
                postgresql_using="gin",
                postgresql_ops={"name_key": "gin_trgm_ops"},
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_name_search")
            batch_op.create_index(f"ix_{table}_name_key", ["name_key"], unique=False)
