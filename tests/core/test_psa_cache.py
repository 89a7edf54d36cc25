"""The PSA cache: complete refreshes from each fake PSA, atomic replacement, fast search.

Runs on SQLite and (with REBILL_TEST_POSTGRES_URL) PostgreSQL through the `engine` fixture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.psa_cache import cache_is_empty, get_cached, last_refresh, refresh_cache, search_cache
from integrations.base import Company, PsaClient, PsaError
from models.psa import PsaCompany, PsaRefresh
from tests.harness.clock import FixedClock
from tests.harness.fake_psa import (
    FakeAutotask,
    FakeConnectWise,
    FakeHaloPSA,
    active_count,
    autotask_client,
    connectwise_client,
    halopsa_client,
    make_companies,
)


class ListClient:
    """A PsaClient over a list, for cache behaviour that does not depend on any vendor's HTTP."""

    kind = "autotask"

    def __init__(self, companies: list[Company], *, fail_after: int | None = None) -> None:
        self.companies, self.fail_after = companies, fail_after

    def iter_companies(self) -> Iterator[Company]:
        for i, company in enumerate(self.companies):
            if self.fail_after is not None and i == self.fail_after:
                raise PsaError("Autotask answered HTTP 503 on each of 5 attempts; try again later.")
            yield company

    def get_company(self, ref: str) -> Company | None:
        return next((c for c in self.companies if c.ref == ref), None)

    def search(self, text: str, limit: int = 25) -> list[Company]:
        return []

    def check(self) -> str:
        return "list"

    def close(self) -> None:
        pass


def company(ref: int, name: str, **fields: object) -> Company:
    return Company(psa_kind="autotask", ref=str(ref), name=name, **fields)  # type: ignore[arg-type]


def rows(engine: Engine, kind: str = "autotask") -> dict[str, str]:
    with Session(engine) as db:
        return {
            r.psa_id: r.name for r in db.exec(select(PsaCompany).where(PsaCompany.psa_kind == kind)).scalars()
        }


def all_kinds(engine: Engine) -> set[str]:
    with Session(engine) as db:
        return set(db.exec(select(PsaCompany.psa_kind).distinct()).scalars())


# -- complete refreshes from each fake vendor ------------------------------------------------------
def test_autotask_refresh_caches_every_active_company_once(engine: Engine, clock: FixedClock) -> None:
    with FakeAutotask(make_companies(2345)) as fake, autotask_client(fake) as client:
        result = refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock)
        expected = {str(c.id) for c in fake.companies if c.active and c.id != 0}
    assert result.company_count == len(expected) == 2111
    assert set(rows(engine)) == expected
    with Session(engine) as db:
        refresh = last_refresh(db=db, psa_kind="autotask")
        assert refresh is not None and refresh.company_count == 2111 and refresh.last_error is None
        assert refresh.last_success_at == clock.now()
        cached = get_cached(db=db, psa_kind="autotask", ref="5")
        assert cached is not None and cached.name_key == "company 000005 pty ltd"
        assert cached.country == "New Zealand" and cached.refreshed_at == clock.now()


def test_connectwise_refresh_caches_every_active_company_once(engine: Engine, clock: FixedClock) -> None:
    with FakeConnectWise(make_companies(2345)) as fake, connectwise_client(fake) as client:
        result = refresh_cache(engine=engine, client=client, psa_kind="connectwise", clock=clock)
        expected = {str(c.id) for c in fake.companies if c.active and not fake.is_deleted(c)}
    assert result.company_count == len(expected)
    assert set(rows(engine, "connectwise")) == expected


def test_halopsa_refresh_caches_every_active_company_once(engine: Engine, clock: FixedClock) -> None:
    with FakeHaloPSA(make_companies(345)) as fake, halopsa_client(fake) as client:
        result = refresh_cache(engine=engine, client=client, psa_kind="halopsa", clock=clock)
        assert result.company_count == active_count(fake.companies) == 311
    assert len(rows(engine, "halopsa")) == 311


# -- atomic replacement ------------------------------------------------------------------------
def test_a_failed_refresh_keeps_the_old_cache(engine: Engine, clock: FixedClock) -> None:
    with FakeAutotask(make_companies(1600)) as fake, autotask_client(fake) as client:
        refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock)
        before = rows(engine)
        first_success = clock.now()
        fake.companies[5].name = "Renamed Ltd"
        clock.advance(hours=1)
        # page 1 of 4 is streamed into the staging generation (batches of 100), then page 2 fails
        fake.fail_next("companies_next", status=500, body='{"errors": ["Query timed out"]}')
        with pytest.raises(PsaError, match="Query timed out"):
            refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock, batch_size=100)
    assert rows(engine) == before
    assert all_kinds(engine) == {"autotask"}  # staging rows were discarded
    with Session(engine) as db:
        refresh = db.get(PsaRefresh, "autotask")
        assert refresh is not None
        assert refresh.last_success_at == first_success and refresh.last_attempt_at == clock.now()
        assert refresh.last_error and "Autotask" in refresh.last_error
        assert refresh.company_count == len(before)


def test_a_failure_mid_stream_is_never_half_applied(engine: Engine, clock: FixedClock) -> None:
    old = [company(i, f"Old {i}") for i in range(1, 501)]
    refresh_cache(engine=engine, client=ListClient(old), psa_kind="autotask", clock=clock)
    new = [company(i, f"New {i}") for i in range(1, 3001)]
    with pytest.raises(PsaError, match="503"):
        refresh_cache(
            engine=engine,
            client=ListClient(new, fail_after=2500),
            psa_kind="autotask",
            clock=clock,
            batch_size=200,
        )
    assert rows(engine) == {str(i): f"Old {i}" for i in range(1, 501)}
    assert all_kinds(engine) == {"autotask"}
    with Session(engine) as db:
        refresh = db.get(PsaRefresh, "autotask")
        assert refresh is not None and refresh.last_error is not None and "503" in refresh.last_error


def test_an_unexpected_error_is_recorded_too(engine: Engine, clock: FixedClock) -> None:
    class Broken(ListClient):
        def iter_companies(self) -> Iterator[Company]:
            yield company(1, "A")
            raise RuntimeError("bug in a client")

    with pytest.raises(RuntimeError):
        refresh_cache(engine=engine, client=Broken([]), psa_kind="autotask", clock=clock)
    with Session(engine) as db:
        refresh = db.get(PsaRefresh, "autotask")
        assert refresh is not None and refresh.last_error == "RuntimeError: bug in a client"
        assert refresh.last_success_at is None
        assert cache_is_empty(db=db, psa_kind="autotask")


def test_a_refresh_replaces_renames_and_drops(engine: Engine, clock: FixedClock) -> None:
    refresh_cache(
        engine=engine, client=ListClient([company(1, "A"), company(2, "B")]), psa_kind="autotask", clock=clock
    )
    refresh_cache(
        engine=engine,
        client=ListClient([company(2, "Bee"), company(3, "C")]),
        psa_kind="autotask",
        clock=clock,
    )
    assert rows(engine) == {"2": "Bee", "3": "C"}


def test_duplicates_and_long_values_do_not_break_a_refresh(engine: Engine, clock: FixedClock) -> None:
    client = ListClient([company(1, "A" * 300, phone="9" * 80), company(1, "A again"), company(2, "B")])
    assert refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock).company_count == 2
    with Session(engine) as db:
        cached = get_cached(db=db, psa_kind="autotask", ref="1")
        assert cached is not None and len(cached.name) == 255 and cached.phone == "9" * 50


def test_kinds_are_kept_apart_and_stale_staging_is_swept(engine: Engine, clock: FixedClock) -> None:
    with Session(engine) as db:
        db.add(
            PsaCompany(
                psa_kind="autotask~dead",
                psa_id="1",
                name="x",
                name_key="x",
                refreshed_at=clock.now() - timedelta(days=2),
            )
        )
        db.add(
            PsaCompany(psa_kind="halopsa", psa_id="1", name="Halo", name_key="halo", refreshed_at=clock.now())
        )
        db.commit()
    refresh_cache(engine=engine, client=ListClient([company(1, "A")]), psa_kind="autotask", clock=clock)
    assert all_kinds(engine) == {"autotask", "halopsa"}
    assert rows(engine, "halopsa") == {"1": "Halo"}


# -- search ------------------------------------------------------------------------------------
@pytest.fixture
def searchable(engine: Engine, clock: FixedClock) -> Engine:
    names = [
        "Acme Pty Ltd",
        "Bacme Holdings",
        "acme (NZ)",
        "Zeta Acme",
        "100% Pure",
        "Under_Score",
        "ACME Ltd",
        "Nothing",
    ]
    refresh_cache(
        engine=engine,
        client=ListClient([company(i, n) for i, n in enumerate(names, 1)]),
        psa_kind="autotask",
        clock=clock,
    )
    return engine


def names(found: list[PsaCompany]) -> list[str]:
    return [c.name for c in found]


def test_search_puts_prefix_matches_first_then_contains(searchable: Engine) -> None:
    with Session(searchable) as db:
        assert names(search_cache(db=db, psa_kind="autotask", text="ACME")) == [
            "acme (NZ)",
            "ACME Ltd",
            "Acme Pty Ltd",
            "Bacme Holdings",
            "Zeta Acme",
        ]
        assert names(search_cache(db=db, psa_kind="autotask", text="acme", limit=2)) == [
            "acme (NZ)",
            "ACME Ltd",
        ]
        assert names(search_cache(db=db, psa_kind="autotask", text="  "))[:2] == ["100% Pure", "acme (NZ)"]
        assert search_cache(db=db, psa_kind="halopsa", text="acme") == []


def test_search_treats_like_wildcards_literally(searchable: Engine) -> None:
    with Session(searchable) as db:
        assert names(search_cache(db=db, psa_kind="autotask", text="%")) == ["100% Pure"]
        assert names(search_cache(db=db, psa_kind="autotask", text="r_s")) == ["Under_Score"]


def test_search_is_fast_at_50000_rows(engine: Engine, clock: FixedClock) -> None:
    many = [company(i, f"Customer {i:05d} {'Plumbing' if i % 7 else 'Electrical'}") for i in range(1, 50_001)]
    refresh_cache(engine=engine, client=ListClient(many), psa_kind="autotask", clock=clock, batch_size=5000)
    with Session(engine) as db:
        assert db.exec(select(func.count()).select_from(PsaCompany)).scalar_one() == 50_000
        search_cache(db=db, psa_kind="autotask", text="warm up")
        started = time.perf_counter()
        for text in ("cust", "electrical", "0420", "customer 4999", "zzz"):
            found = search_cache(db=db, psa_kind="autotask", text=text, limit=100)
            assert len(found) <= 100
        per_query = (time.perf_counter() - started) / 5
        assert names(search_cache(db=db, psa_kind="autotask", text="customer 4999"))[0] == (
            "Customer 49990 Plumbing"
        )
    assert per_query < 0.25, f"search took {per_query * 1000:.0f} ms a query"


def test_cache_is_empty(engine: Engine, clock: FixedClock, db: Session) -> None:
    assert cache_is_empty(db=db, psa_kind="autotask")
    db.rollback()  # on SQLite every transaction holds the write lock (BEGIN IMMEDIATE): end ours first
    refresh_cache(engine=engine, client=ListClient([company(1, "A")]), psa_kind="autotask", clock=clock)
    assert not cache_is_empty(db=db, psa_kind="autotask")
    assert cache_is_empty(db=db, psa_kind="connectwise")


def test_list_client_satisfies_the_protocol() -> None:
    assert isinstance(ListClient([]), PsaClient)
