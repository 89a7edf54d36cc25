"""name_key: one key for customer and PSA company names (runs of spaces collapsed, casefolded)

The PSA cache kept inner runs of spaces in its keys ("acme  dental"), which no typed lookup ever
produces, so those companies could not be found by name. Existing keys are rewritten under the one
rule (`core.text.name_key`, copied here as it stood at this revision: a migration must not change
when the code does). An active customer whose new key another active customer already holds keeps
its old key rather than breaking the uniqueness of active names; a person renames one of them.

Revision ID: 0019_name_key
Revises: 0018
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_name_key"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(name: str, limit: int) -> str:
    return " ".join(name.split()).casefold()[:limit]


def upgrade() -> None:
    bind = op.get_bind()
    psa = sa.table("psa_company", sa.column("id"), sa.column("name"), sa.column("name_key"))
    for id_, name, key in bind.execute(sa.select(psa.c.id, psa.c.name, psa.c.name_key)).all():
        new = _key(name, 255)
        if new != key:
            bind.execute(sa.update(psa).where(psa.c.id == id_).values(name_key=new))
    customer = sa.table(
        "end_customer", sa.column("id"), sa.column("company_name"), sa.column("name_key"), sa.column("archived_at")
    )
    rows = bind.execute(
        sa.select(customer.c.id, customer.c.company_name, customer.c.name_key, customer.c.archived_at)
    ).all()
    active = {key for _, _, key, archived in rows if archived is None}
    for id_, name, key, archived in rows:
        new = _key(name, 100)
        if new == key:
            continue
        if archived is None:
            if new in active:
                continue
            active.discard(key)
            active.add(new)
        bind.execute(sa.update(customer).where(customer.c.id == id_).values(name_key=new))


def downgrade() -> None:
    # The collapsed keys are also what the older code's lookups produce: nothing to undo.
    pass
