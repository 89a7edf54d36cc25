"""HaloPsaClient against the fake Halo API: tokens, 100-row page cap, main sites, faults."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
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


def test_a_warehouse_listed_first_does_not_win_over_the_main_site(fake_halo: FakeHaloPSA) -> None:
    eight = fake_halo.companies[7]
    first = fake_halo.sites_of(eight, address=True)[0]
    assert first["name"] == "Warehouse" and first["id"] != 80  # listed before the main site
    with halopsa_client(fake_halo) as client:
        by_ref = {c.ref: c for c in client.iter_companies()}
        single = client.get_company("8")
        found = client.search("Company 000008", 1)
    company = by_ref["8"]
    expected = ("+61 2 90000008", "8 Example Street", None, "Melbourne", "VIC", "2008", "Australia")
    assert (
        company.phone,
        company.address_line1,
        company.address_line2,
        company.city,
        company.state,
        company.postcode,
        company.country,
    ) == expected
    assert single == company == found[0]
    assert all(r.query.get("includeaddress") == "true" for r in fake_halo.requests_to("sites"))


def test_both_common_layouts_come_back_as_they_went_in(fake_halo: FakeHaloPSA) -> None:
    with halopsa_client(fake_halo) as client:
        by_ref = {c.ref: c for c in client.iter_companies()}
    for c in fake_halo.companies:
        if c.active:  # odd ids: "STATE POSTCODE" on one line; even ids: state and postcode apart
            got = by_ref[str(c.id)]
            assert (got.address_line1, got.address_line2, got.city, got.state, got.postcode) == (
                c.address1,
                c.address2,
                c.city,
                c.state,
                c.postcode,
            )


def test_list_rows_without_main_site_id_ask_for_the_client() -> None:
    with FakeHaloPSA(make_companies(12), list_main_site_id=False) as fake, halopsa_client(fake) as client:
        companies = list(client.iter_companies())
        assert {c.ref: c.address_line1 for c in companies}["8"] == "8 Example Street"
        assert len(fake.requests_to("client_get")) == len(companies)


def test_the_accounts_email_is_imported() -> None:
    book = make_companies(3)
    book[0].email = "accounts@one.example"
    with FakeHaloPSA(book) as fake, halopsa_client(fake) as client:
        emails = {c.ref: c.email for c in client.iter_companies()}
        assert client.get_company("1").email == "accounts@one.example"  # type: ignore[union-attr]
    assert emails == {"1": "accounts@one.example", "2": None, "3": None}


def test_without_includeaddress_halo_sends_no_address(fake_halo: FakeHaloPSA) -> None:
    """The fake keeps Halo's documented contract, so a client that forgot the flag would fail."""
    [site] = fake_halo.sites_of(fake_halo.companies[0], address=False)
    assert not any(key.startswith("delivery_address") for key in site)


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


def test_the_fake_refuses_parameters_the_published_document_lacks(fake_halo: FakeHaloPSA) -> None:
    response = httpx.get(fake_halo.url + "/api/Site", params={"includeaddres": "true"})
    assert response.status_code == 400 and "includeaddres" in response.text


def test_a_main_site_missing_from_the_bulk_list_is_asked_for(fake_halo: FakeHaloPSA) -> None:
    with halopsa_client(fake_halo) as client:
        sites = client._all_sites()
        assert sites is not None
        del sites[80]  # client 8's main site
        company = client._with_main_site(fake_halo.render(fake_halo.companies[7]), sites)
    assert company.address_line1 == "8 Example Street"
    assert [r.query["client_id"] for r in fake_halo.requests_to("sites") if "client_id" in r.query] == ["8"]
