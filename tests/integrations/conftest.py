"""Fake PSA servers per test, started on an ephemeral port and stopped (releasing held requests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.fake_psa import FakeAutotask, FakeConnectWise, FakeHaloPSA, make_companies


@pytest.fixture
def fake_autotask() -> Iterator[FakeAutotask]:
    with FakeAutotask(make_companies(60)) as fake:
        yield fake


@pytest.fixture
def fake_connectwise() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(make_companies(60)) as fake:
        yield fake


@pytest.fixture
def fake_halo() -> Iterator[FakeHaloPSA]:
    with FakeHaloPSA(make_companies(60)) as fake:
        yield fake
