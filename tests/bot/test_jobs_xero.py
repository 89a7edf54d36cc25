"""The Xero job: every 30 minutes, claimed per slot; pushes in "when approved" mode, reads payments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.jobs import find
from bot.scheduler import job_context
from bot.settings import Settings
from core import invoices
from core.db import session_scope
from core.xero_settings import load_settings
from tests.harness.clock import FixedClock
from tests.harness.fake_xero import FakeXero
from tests.harness.jobs import NO_PSA, SYDNEY_0930
from tests.harness.xero_setup import billed_month, map_codes


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[tuple[FakeXero, FixedClock]]:  # type: ignore[no-untyped-def]
    clock = FixedClock(SYDNEY_0930)
    server = FakeXero(clock=clock).start()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "XERO_CLIENT_ID": server.client_id,
        "XERO_CLIENT_SECRET": server.client_secret,
        "XERO_IDENTITY_URL": server.base_url,
        "XERO_API_URL": server.api_url,
        "XERO_CONNECTIONS_URL": server.connections_url,
    }.items():
        monkeypatch.setenv(name, value)
    yield server, clock
    server.stop()
    assert server.violations == []


def test_the_job_pushes_when_approved_reads_payments_and_runs_once_a_slot(
    settings: Settings, engine: Engine, fake: tuple[FakeXero, FixedClock]
) -> None:
    server, clock = fake
    numbers = billed_month(engine, ["Alpha Dental", "Bravo Legal"])
    map_codes(engine)
    spec = find("xero_sync")
    assert spec is not None
    ctx = job_context(settings, engine, clock, NO_PSA)
    assert spec.run(ctx, clock.now()) == "0 paid, 0 part-paid"  # by hand: nothing pushed
    assert server.invoices() == []
    with session_scope(engine) as db:
        load_settings(db).push_mode = "approve"
    clock.advance(minutes=30)
    assert spec.run(ctx, clock.now()) == "2 pushed, 0 not pushed; 0 paid, 0 part-paid"
    assert spec.run(ctx, clock.now()).startswith("already done for")
    alpha = numbers["Alpha Dental"]
    server.record_payment(alpha, server.by_number(alpha)[0].total, date(2026, 12, 2))
    clock.advance(minutes=30)
    assert spec.run(ctx, clock.now()) == "0 pushed, 0 not pushed; 1 paid, 0 part-paid"
    with session_scope(engine) as db:
        assert invoices.find(db=db, ref=alpha).status == "paid"


def test_an_outage_is_reported_and_the_next_slot_retries(
    settings: Settings, engine: Engine, fake: tuple[FakeXero, FixedClock]
) -> None:
    server, clock = fake
    billed_month(engine, ["Alpha Dental"])
    map_codes(engine)
    with session_scope(engine) as db:
        load_settings(db).push_mode = "approve"
    spec = find("xero_sync")
    assert spec is not None
    ctx = job_context(settings, engine, clock, NO_PSA)
    server.fail_next("POST /Invoices", times=5, status=503)
    server.fail_next("GET /Invoices", times=5, status=503)
    assert (
        spec.run(ctx, clock.now())
        == "Xero: Xero answered HTTP 503 (GET /Invoices); it will be retried on the next run."
    )
    clock.advance(minutes=30 + 1)
    assert spec.run(ctx, clock.now() + timedelta(seconds=0)).startswith("1 pushed")
