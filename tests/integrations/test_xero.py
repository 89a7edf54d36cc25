"""The Xero client against the fake Xero: both token grants, rotation under a row lock, the shared
call budget (minute, day, concurrency), 429 + Retry-After, and the fake's own schema checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine

from core.db import session_scope
from core.xero_budget import CallBudget, Limits, day_remaining
from core.xero_tokens import load_connection, token_state
from integrations.xero import XeroValidation, parse_msdate
from integrations.xero_auth import XeroAuthError
from tests.harness.clock import FixedClock
from tests.harness.fake_xero import FakeXero
from tests.harness.xero_setup import client, connect_standard, xero_config


@pytest.fixture
def fake(clock: FixedClock) -> Iterator[FakeXero]:
    server = FakeXero(clock=clock, hold_seconds=10).start()
    yield server
    server.stop()
    assert server.violations == [], "requests departed from Xero's OpenAPI document"


def test_custom_connection_gets_a_token_once_and_shares_it_across_replicas(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    with client(engine, fake, clock) as one, client(engine, fake, clock) as two:
        assert one.organisation()["Name"] == "Demo MSP Pty Ltd"
        two.organisation()
        assert fake.token_grants == ["client_credentials"]
        clock.advance(minutes=30)  # expired: a new client-credentials token, no refresh token exists
        two.organisation()
        assert fake.token_grants == ["client_credentials", "client_credentials"]
    with session_scope(engine) as db:
        row = load_connection(db)
        assert row is not None and row.tenant_id == fake.tenant_id and row.tenant_name == "Demo MSP Pty Ltd"
        assert row.refresh_token is None
    assert "valid for 30 more minute" in token_state(engine, xero_config(fake), clock=clock)


def test_standard_app_refreshes_once_under_the_row_lock_and_rotates(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    config = connect_standard(engine, fake, clock)
    with session_scope(engine) as db:
        first = load_connection(db)
        assert first is not None and first.refresh_token and first.kind == "standard"
    clock.advance(minutes=31)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            with client(engine, fake, clock, config=config) as xero:
                barrier.wait()
                xero.organisation()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert fake.token_grants.count("refresh_token") == 1  # four replicas, one refresh
    with session_scope(engine) as db:
        now = load_connection(db)
        assert now is not None and now.refresh_token != first.refresh_token
    assert fake.refresh_tokens[first.refresh_token] is False  # the old one is spent


def test_an_expired_refresh_token_is_reported_not_looped_on(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    config = connect_standard(engine, fake, clock)
    fake.expire_refresh_tokens()
    clock.advance(minutes=31)
    with client(engine, fake, clock, config=config) as xero:
        with pytest.raises(XeroAuthError, match="xero connect"):
            xero.organisation()
        with pytest.raises(XeroAuthError, match="expired"):
            xero.organisation()
    assert fake.token_grants.count("refresh_token") == 1
    assert fake.api_calls() == []
    assert token_state(engine, config, clock=clock).startswith(
        "refused: Xero refused the stored refresh token"
    )
    connect_standard(engine, fake, clock)  # connecting again clears it
    with client(engine, fake, clock, config=config) as xero:
        assert xero.organisation()["Name"]


def test_a_401_renews_the_token_once(engine: Engine, fake: FakeXero, clock: FixedClock) -> None:
    with client(engine, fake, clock) as xero:
        xero.organisation()
        fake.expire_access_tokens()  # Xero revoked it early
        assert xero.organisation()["Name"]
    assert fake.token_grants == ["client_credentials", "client_credentials"]


def test_the_minute_limit_is_kept_without_being_refused(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    start = clock.now()
    with client(engine, fake, clock) as xero:
        for _ in range(130):
            xero.tax_rates()
    assert fake.refusals == []
    assert len(fake.api_calls()) == 130
    elapsed = (clock.now() - start).total_seconds()
    assert 120 <= elapsed <= 125  # 60 now, 60 a minute later, 10 a minute after that
    assert day_remaining(engine, clock=clock) == 5000 - 130


def test_a_429_is_honoured_with_its_retry_after_and_the_problem_named(
    engine: Engine, clock: FixedClock
) -> None:
    fake = FakeXero(clock=clock, minute_limit=3).start()  # a stricter Xero than our budget expects
    try:
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.advance(seconds=seconds)

        with client(engine, fake, clock) as xero:
            xero.sleep = sleep
            for _ in range(5):
                xero.tax_rates()
            assert xero.rate_limited == ["minute"]
        assert fake.refusals == ["minute"] and waits == [60.0]
    finally:
        fake.stop()


def test_the_daily_limit_is_reported_not_waited_out(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    from integrations.xero import BudgetExhausted

    with client(
        engine, fake, clock, budget=CallBudget(engine, clock=clock, limits=Limits(per_day=2))
    ) as xero:
        xero.tax_rates()
        xero.tax_rates()
        with pytest.raises(BudgetExhausted, match="daily limit"):
            xero.tax_rates()


def test_no_more_than_five_calls_are_in_flight_across_replicas(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    fake.fail_next("GET /TaxRates", times=5, hang_after=True)
    done: list[int] = []
    threads = []
    for i in range(5):
        xero = client(engine, fake, clock, timeout=30)
        threads.append(threading.Thread(target=lambda x=xero, n=i: (x.tax_rates(), done.append(n))))
    for t in threads:
        t.start()
    assert fake.wait_in_flight(5)
    poll = threading.Event()
    sixth = client(engine, fake, clock)
    sixth.budget.sleep = lambda _s: poll.wait(0.01)  # poll without moving the clock
    sixth_thread = threading.Thread(target=lambda: (sixth.tax_rates(), done.append(6)))
    sixth_thread.start()
    while sixth.budget.waited == 0 and sixth_thread.is_alive():
        poll.wait(0.01)
    assert len(fake.api_calls()) == 5  # the sixth waits on our side, Xero never sees it
    fake.release()
    for t in [*threads, sixth_thread]:
        t.join(30)
    assert sorted(done) == [0, 1, 2, 3, 4, 6]
    assert fake.max_in_flight == 5 and fake.refusals == []


def test_the_fake_refuses_fields_xero_does_not_have(
    engine: Engine, fake: FakeXero, clock: FixedClock
) -> None:
    with client(engine, fake, clock) as xero, pytest.raises(XeroValidation, match="Colour"):
        xero.save("Contacts", [{"Name": "Acme", "Colour": "blue"}], key="k1")
    assert any("'Colour' was unexpected" in v for v in fake.violations)
    with client(engine, fake, clock) as xero, pytest.raises(XeroValidation, match=r"Total.* was unexpected"):
        xero.save("Invoices", [{"Type": "ACCREC", "Total": 3}], key="k2")  # read-only in the document
    fake.violations.clear()


def test_xero_dates_are_read() -> None:
    assert parse_msdate("/Date(1764547200000+0000)/") == datetime(2025, 12, 1, tzinfo=UTC)
    assert parse_msdate("2026-12-10T00:00:00") == datetime(2026, 12, 10, tzinfo=UTC)
    assert parse_msdate(None) is None
