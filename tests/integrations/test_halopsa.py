"""HaloPsaClient against the fake Halo API: tokens, 100-row page cap, main sites, faults."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.base import PsaAuthError, PsaError, PsaUnavailable
from tests.harness.clock import FixedClock
from tests.harness.fake_psa import FakeHaloPSA, RecordingSleep, active_count, halopsa_client, make_companies


@pytest.fixture
def big_halo() -> Iterator[FakeHaloPSA]:
    with FakeHaloPSA(make_companies(345)) as fake:
        yield fake


@pytest.mark.parametrize("page_size", [100, 250])
def test_pages_through_every_active_client_despite_the_cap(big_halo: FakeHaloPSA, page_size: int) -> None:
    with halopsa_client(big_halo, page_size=page_size) as client:
        companies = list(client.iter_companies())
    refs = [c.ref for c in companies]
    assert len(refs) == len(set(refs)) == active_count(big_halo.companies) == 311
    assert all(c.active for c in companies)
    pages = big_halo.requests_to("clients")
    assert [p.query["page_no"] for p in pages] == ["1", "2", "3", "4"]
    assert all(p.query["includeinactive"] == "false" and p.query["pageinate"] == "true" for p in pages)
    # addresses came from paged sites, not one request per client
    assert "client_id" not in "".join(r.query.get("client_id", "") for r in big_halo.requests_to("sites"))
    assert len(big_halo.requests_to("sites")) == 5  # 431 sites at 100 a page
    assert len(big_halo.requests_to("token")) == 1


def test_uses_the_main_site_and_tolerates_float_client_ids(fake_halo: FakeHaloPSA) -> None:
    with halopsa_client(fake_halo) as client:
        by_ref = {c.ref: c for c in client.iter_companies()}
        single = client.get_company("8")
    company = by_ref["8"]  # id 8 has a warehouse site listed before its main site
    assert (company.phone, company.address_line1, company.state, company.country) == (
        "+61 2 90000008",
        "8 Example Street",
        "VIC",
        "Australia",
    )
    assert single == company


def test_falls_back_to_per_client_sites() -> None:
    with FakeHaloPSA(make_companies(12), bulk_sites=False) as fake, halopsa_client(fake) as client:
        companies = list(client.iter_companies())
        assert companies[0].address_line1 == "1 Example Street"
        per_client = [r for r in fake.requests_to("sites") if "client_id" in r.query]
        assert len(per_client) == len(companies)


def test_get_company_and_search(fake_halo: FakeHaloPSA) -> None:
    with halopsa_client(fake_halo) as client:
        inactive = client.get_company("10")
        assert inactive is not None and not inactive.active
        assert client.get_company("999") is None
        found = client.search("company 00002", 3)
        assert "active clients" in client.check()
    assert [c.ref for c in found] == ["21", "22", "23"]
    assert found[0].city == "Sydney"


def test_token_is_cached_until_expiry(fake_halo: FakeHaloPSA) -> None:
    clock = FixedClock()
    with halopsa_client(fake_halo, clock=clock) as client:
        client.get_company("1")
        client.get_company("2")
        assert len(fake_halo.requests_to("token")) == 1
        clock.advance(seconds=3600 - 61)
        client.get_company("3")
        assert len(fake_halo.requests_to("token")) == 1
        clock.advance(seconds=2)
        client.get_company("4")
        assert len(fake_halo.requests_to("token")) == 2
    form = fake_halo.requests_to("token")[0].body.decode()
    assert "grant_type=client_credentials" in form and "scope=all" in form


def test_a_revoked_token_is_replaced_once(fake_halo: FakeHaloPSA) -> None:
    with halopsa_client(fake_halo) as client:
        client.get_company("1")
        fake_halo.revoke_tokens()
        assert client.get_company("2") is not None
    assert len(fake_halo.requests_to("token")) == 2


def test_tenant_goes_on_the_token_request() -> None:
    with FakeHaloPSA(make_companies(3), tenant="acme") as fake:
        with halopsa_client(fake) as client:
            assert client.get_company("1") is not None
        assert fake.requests_to("token")[0].query == {"tenant": "acme"}
        with halopsa_client(fake, tenant=None) as client, pytest.raises(PsaAuthError):
            client.get_company("1")


def test_bad_secret_is_a_token_error(fake_halo: FakeHaloPSA) -> None:
    with halopsa_client(fake_halo, client_secret="wrong") as client, pytest.raises(PsaAuthError) as err:
        client.check()
    assert err.value.user_message.startswith("HaloPSA: token request failed (HTTP 401: invalid_client)")


def test_custom_auth_url() -> None:
    """A hosted tenant's token endpoint is not under the resource server's /auth: HALOPSA_AUTH_URL wins."""
    with FakeHaloPSA(make_companies(3), auth_path="/hosted/auth") as fake:
        with halopsa_client(fake, auth_url=fake.url + "/hosted/auth") as client:
            assert client.get_company("1") is not None
        assert [r.path for r in fake.requests_to("token")] == ["/hosted/auth/token"]
        with halopsa_client(fake) as client, pytest.raises(PsaError):  # the default URL is not it
            client.get_company("1")


def test_recovers_from_rate_limits_and_timeouts(big_halo: FakeHaloPSA) -> None:
    sleep = RecordingSleep()
    big_halo.fail_next("clients", status=429, retry_after="1")
    big_halo.fail_next("clients", hold=True)
    big_halo.fail_next("sites", status=503, retry_after="0")
    big_halo.fail_next("token", status=503, retry_after="0")
    with halopsa_client(big_halo, sleep=sleep, timeout=0.3) as client:
        assert len(list(client.iter_companies())) == 311
    assert 1.0 in sleep.waits and sleep.waits.count(0.0) == 2


def test_persistent_outage_and_malformed_json(fake_halo: FakeHaloPSA) -> None:
    fake_halo.fail_next("clients", status=503, times=5)
    with halopsa_client(fake_halo) as client, pytest.raises(PsaUnavailable, match="HaloPSA"):
        list(client.iter_companies())
    fake_halo.fail_next("clients", status=200, body="<html>")
    with halopsa_client(fake_halo) as client, pytest.raises(PsaError, match="malformed"):
        list(client.iter_companies())
