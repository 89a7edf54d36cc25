"""A billed book for the rendering and PDF tests (the `billed` fixture, shared through tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.billrun import run_bill
from core.db import session_scope
from models.system import BillingSettings
from tests.harness.billbook import ACTOR, DEC, build_book
from tests.harness.clock import FixedClock

# The smallest valid PNG (1x1), for the logo.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8"
    "ffff3f0005fe02fea7d6a4f50000000049454e44ae426082"
)


@pytest.fixture
def billed(engine: Engine, tmp_path: Path) -> Engine:
    build_book(engine)
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    with session_scope(engine) as db:
        settings = db.get(BillingSettings, 1)
        assert settings is not None
        settings.abn = "12 345 678 901"
        settings.business_address = "1 Example St\nSydney NSW 2000"
        settings.payment_instructions = "BSB 062-000 Account 1234 5678"
        settings.logo_path = str(logo)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    return engine
