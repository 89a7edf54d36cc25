"""ConnectWiseClient against the fake REST 3.0 API: auth, page size, Link paging, statuses, faults."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from integrations.base import PsaAuthError, PsaError, PsaUnavailable
from integrations.connectwise import connectwise_base_url
from tests.harness.fake_psa import (
    CW_PREFIX,
    FakeCompany,
    FakeConnectWise,
    RecordingSleep,
    connectwise_client,
    make_companies,
)


@pytest.fixture
def big_connectwise() -> Iterator[FakeConnectWise]:
    with FakeConnectWise(make_companies(2345)) as fake:
        yield fake


def expected_refs(fake: FakeConnectWise) -> set[str]:
    return {str(c.id) for c in fake.companies if c.active and not fake.is_deleted(c)}


@pytest.mark.parametrize("forward_only", [True, False])
def test_iterates_every_active_company_once(big_connectwise: FakeConnectWise, forward_only: bool) -> None:
    with connectwise_client(big_connectwise, forward_only=forward_only) as client:
        refs = [c.ref for c in client.iter_companies()]
    assert len(refs) == len(set(refs))
    assert set(refs) == expected_refs(big_connectwise)
    pages = big_connectwise.requests_to("companies")
    assert len(pages) == 3  # 2,167 not-deleted companies at 1,000 a page
    first = pages[0].query
    assert first["pageSize"] == "1000"
    assert first["conditions"] == "deletedFlag=false"
    # forward-only pages are ordered by id already: orderBy only with page numbers
    assert first.get("orderBy") == (None if forward_only else "id asc")
    assert ("pageId" in pages[1].query) is forward_only
    assert (pages[0].headers.get("pagination-type") == "forward-only") is forward_only


def test_sends_basic_auth_and_client_id(fake_connectwise: FakeConnectWise) -> None:
    with connectwise_client(fake_connectwise) as client:
        client.get_company("1")
    request = fake_connectwise.requests_to("company_get")[0]
    token = base64.b64encode(b"acme+pubkey:privkey").decode()
    assert request.headers["authorization"] == f"Basic {token}"
    assert request.headers["clientid"] == fake_connectwise.client_id


def test_the_fake_defaults_to_25_a_page_and_caps_at_1000(big_connectwise: FakeConnectWise) -> None:
    auth = (f"{big_connectwise.company_id}+{big_connectwise.public_key}", big_connectwise.private_key)
    url = big_connectwise.base_url + CW_PREFIX + "company/companies"
    headers = {"clientId": big_connectwise.client_id}
    assert len(httpx.get(url, auth=auth, headers=headers).json()) == 25
    assert len(httpx.get(url, params={"pageSize": 5000}, auth=auth, headers=headers).json()) == 1000


def test_maps_fields_and_flags_inactive_and_deleted(fake_connectwise: FakeConnectWise) -> None:
    with connectwise_client(fake_connectwise) as client:
        company = client.get_company("4")
        inactive = client.get_company("10")
        deleted = client.get_company("13")
        missing = client.get_company("4040")
    assert company is not None
    assert (company.name, company.phone, company.address_line1, company.address_line2) == (
        "Company 000004 Pty Ltd",
        "+61 2 90000004",
        "4 Example Street",
        None,
    )
    assert (company.city, company.state, company.postcode, company.country) == (
        "Melbourne",
        "VIC",
        "2004",
        "Australia",
    )
    assert inactive is not None and not inactive.active
    assert deleted is not None and not deleted.active
    assert missing is None


def test_the_status_inactive_flag_decides_whatever_the_name() -> None:
    with FakeConnectWise(make_companies(30), inactive_status="Gone Away") as fake:
        with connectwise_client(fake) as client:
            refs = {c.ref for c in client.iter_companies()}
            assert refs == expected_refs(fake) and not {"10", "20"} & refs
            client.get_company("1")
        assert len(fake.requests_to("statuses")) == 1  # read once per client
        assert fake.requests_to("statuses")[0].query["fields"] == "id,name,inactiveFlag"


def test_credit_hold_is_excluded_when_listed() -> None:
    book = make_companies(6, inactive_every=0)
    book[1].status, book[2].status = "Credit Hold", "Former Client"
    with FakeConnectWise(book, deleted_every=0) as fake:
        with connectwise_client(fake) as client:
            assert [c.ref for c in client.iter_companies()] == ["1", "2", "3", "4", "5", "6"]
        with connectwise_client(fake, inactive_statuses=["credit hold", "4"]) as client:
            assert [c.ref for c in client.iter_companies()] == ["1", "4", "5", "6"]
            held = client.get_company("2")
        assert held is not None and not held.active


def test_without_access_to_statuses_a_name_with_inactive_counts() -> None:
    with FakeConnectWise(make_companies(30), inactive_status="Inactive - Do Not Use") as fake:
        fake.status_access = False
        with connectwise_client(fake) as client:
            refs = {c.ref for c in client.iter_companies()}
        assert refs == expected_refs(fake)


def test_only_clients_by_default_never_the_msp_and_the_setting_widens_it() -> None:
    kinds = ["Customer", "Vendor", "Lead", "Customer", "Partner", "Dead"]
    book = [FakeCompany(id=i, name=f"{k} {i}", kind=k) for i, k in enumerate(kinds, start=1)]
    with FakeConnectWise(book, deleted_every=0) as fake:
        with connectwise_client(fake) as client:
            assert [c.name for c in client.iter_companies()] == ["Customer 1", "Customer 4"]
            assert [c.name for c in client.search("", 10)] == ["Customer 1", "Customer 4"]
            own = client.get_company(str(fake.own.id))
            assert own is not None and not own.active
        with connectwise_client(fake, company_types=["client", "VENDOR", "4"]) as client:
            assert [c.name for c in client.iter_companies()] == [
                "Customer 1",
                "Vendor 2",
                "Customer 4",
                "Partner 5",
            ]
        with connectwise_client(fake, company_types=["*"]) as client:
            names = [c.name for c in client.iter_companies()]
        assert len(names) == 6 and fake.own.name not in names


def test_search_uses_a_like_condition(fake_connectwise: FakeConnectWise) -> None:
    with connectwise_client(fake_connectwise) as client:
        assert client.search('Co "quoted"', 10) == []
        quoted = fake_connectwise.requests_to("companies")[-1].query["conditions"]
        found = client.search("company 00002", 3)
    assert [c.ref for c in found] == ["21", "22", "23"]
    assert fake_connectwise.requests_to("companies")[-1].query["conditions"] == (
        'deletedFlag=false and name like "%company 00002%"'
    )
    assert quoted == 'deletedFlag=false and name like "%Co \\"quoted\\"%"'


def test_check(fake_connectwise: FakeConnectWise) -> None:
    with connectwise_client(fake_connectwise) as client:
        assert "ConnectWise PSA v2025.1" in client.check()


@pytest.mark.parametrize(
    ("site", "url"),
    [
        ("api-na.myconnectwise.net", "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/"),
        ("https://api-eu.myconnectwise.net/", "https://api-eu.myconnectwise.net/v4_6_release/apis/3.0/"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/v4_6_release/apis/3.0/"),
        ("https://cw.example/v2025_1/apis/3.0", "https://cw.example/v2025_1/apis/3.0/"),
    ],
)
def test_site_may_be_a_host_or_a_url(site: str, url: str) -> None:
    assert connectwise_base_url(site) == url


# -- errors -------------------------------------------------------------------------------------
def test_403_says_company_maintenance_is_missing(fake_connectwise: FakeConnectWise) -> None:
    fake_connectwise.company_access = False
    with connectwise_client(fake_connectwise) as client, pytest.raises(PsaAuthError) as err:
        client.check()
    assert "ConnectWise: the API member lacks Company Maintenance access" in err.value.user_message


def test_401_names_the_keys(fake_connectwise: FakeConnectWise) -> None:
    client = connectwise_client(fake_connectwise, private_key="nope")
    with client, pytest.raises(PsaAuthError, match=r"rejected the API keys.*CONNECTWISE_PRIVATE_KEY"):
        list(client.iter_companies())


def test_error_body_is_surfaced(fake_connectwise: FakeConnectWise) -> None:
    with connectwise_client(fake_connectwise, client_id="bad") as client, pytest.raises(PsaError) as err:
        client.check()
    assert "A valid clientId is required" in err.value.user_message


def test_recovers_from_429_and_503_mid_paging(big_connectwise: FakeConnectWise) -> None:
    sleep = RecordingSleep()
    with connectwise_client(big_connectwise, sleep=sleep) as client:
        pages = client.iter_companies()
        first = next(pages)
        big_connectwise.fail_next("companies", status=429, retry_after="1")
        big_connectwise.fail_next("companies", status=503, retry_after="0")
        refs = [first.ref, *(c.ref for c in pages)]
    assert sorted(refs, key=int) == sorted(expected_refs(big_connectwise), key=int)
    assert sleep.waits == [1.0, 0.0]


def test_timeout_then_recovery(fake_connectwise: FakeConnectWise) -> None:
    fake_connectwise.fail_next("companies", hold=True)
    with connectwise_client(fake_connectwise, timeout=0.3) as client:
        assert {c.ref for c in client.iter_companies()} == expected_refs(fake_connectwise)


def test_persistent_failure_is_unavailable(fake_connectwise: FakeConnectWise) -> None:
    fake_connectwise.fail_next("companies", status=502, times=10)
    with connectwise_client(fake_connectwise) as client, pytest.raises(PsaUnavailable, match="ConnectWise"):
        list(client.iter_companies())


def test_malformed_json(fake_connectwise: FakeConnectWise) -> None:
    fake_connectwise.fail_next("companies", status=200, body="[{]")
    with connectwise_client(fake_connectwise) as client, pytest.raises(PsaError, match="malformed"):
        list(client.iter_companies())
