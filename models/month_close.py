"""One row per closed month: who ran it, which process holds it, when it finished, whether it ran late."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, utcnow


class MonthClose(SQLModel, table=True):
    """The month's claim: the process that inserts the row bills, sends and reports; others read it."""

    __tablename__ = "month_close"

    period: str = Field(primary_key=True, max_length=7)
    run_by: str = Field(max_length=64, description="Slack user id, cli:<user> or system:<job>")
    claimed_by: str = Field(max_length=100, description="host:pid of the process doing the close")
    claimed_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    scheduled_for: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    ran_late: bool = False
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    send_all_by: str | None = Field(default=None, max_length=64, description="who pressed Send all last")
