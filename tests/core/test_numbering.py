"""Gapless invoice numbers: per prefix, from the starting number, given back on rollback."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import billing_settings, numbering
from core.errors import NotAllowed
from models.invoices import InvoiceSeries
from tests.factories import configure


def _take(engine: Engine, count: int = 1, *, commit: bool = True) -> list[str]:
    with Session(engine) as db:
        settings = billing_settings.load(db)
        numbers = [n.number for n in numbering.allocate(db, settings=settings, count=count)]
        db.commit() if commit else db.rollback()
    return numbers


def test_format_pads_and_grows() -> None:
    assert numbering.format_number("INV-", 3, 5) == "INV-00003"
    assert numbering.format_number("INV-", 123456, 5) == "INV-123456"
    assert numbering.format_number("X", 7, 0) == "X7"


def test_first_use_starts_at_the_starting_number_and_rollback_gives_numbers_back(engine: Engine) -> None:
    configure(engine, start=1000)
    assert _take(engine) == ["INV-01000"]
    assert _take(engine, 2, commit=False) == ["INV-01001", "INV-01002"]
    assert _take(engine, 3) == ["INV-01001", "INV-01002", "INV-01003"]  # no gap after the rollback
    with Session(engine) as db:
        assert numbering.peek(db, settings=billing_settings.load(db)) == "INV-01004"
        assert db.get(InvoiceSeries, "INV-").next_number == 1004  # type: ignore[union-attr]


def test_changing_the_prefix_starts_a_new_series_and_changing_back_carries_on(engine: Engine) -> None:
    configure(engine)
    assert _take(engine, 2) == ["INV-00001", "INV-00002"]
    configure(engine, prefix="CR-", start=50)
    assert _take(engine) == ["CR-00050"]
    configure(engine, prefix="INV-", start=1)
    assert _take(engine) == ["INV-00003"]


def test_a_second_writer_waits_for_the_first_and_reuses_a_rolled_back_number(engine: Engine) -> None:
    configure(engine)
    first = Session(engine)
    settings = billing_settings.load(first)
    held = numbering.next_number(first, settings=settings).number
    taken: list[str] = []
    second = threading.Thread(target=lambda: taken.extend(_take(engine)))
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive() and taken == []  # blocked on the series lock, not racing past it
    first.rollback()
    first.close()
    second.join(timeout=30)
    assert taken == [held] == ["INV-00001"]


def test_no_prefix_is_refused(engine: Engine) -> None:
    with Session(engine) as db, pytest.raises(NotAllowed, match="invoice prefix"):
        numbering.next_number(db, settings=billing_settings.load(db))
