"""Who made a row and when, and who last changed it: the same four columns on every edited table.

Mixins rather than copies so a new table gets the same types (UTC-aware timestamps, 64-character
actors like `cli:<user>` or a Slack id) and `core.audit` can rely on them. The columns are built
per table from `sa_type` (a shared `sa_column` would belong to one table only).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class Created(SQLModel):
    """For rows written once and never edited (versions, usage records, exclusions)."""

    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    created_by: str = Field(max_length=64)


class Audited(Created):
    """For rows people edit: the last change is on the row, the history in the audit log."""

    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_by: str = Field(max_length=64)
