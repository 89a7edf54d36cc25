"""AutotaskClient against the fake ATServicesRest: zones, auth quirks, POST paging, limits, faults."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from integrations.autotask import ThresholdPolicy
from integrations.base import PsaAuthError, PsaConfigError, PsaError, PsaUnavailable
from tests.harness.fake_psa import (
    FakeAutotask,
    FakeCompany,
    RecordingSleep,
    active_count,
    autotask_client,
    make_companies,
)


@pytest.fixture
def big_autotask() -> Iterator[FakeAutotask]:
    with FakeAutotask(make_companies(2345)) as fake:
        yield fake


def test_iterates_every_active_company_once_across_pages(big_autotask: FakeAutotask) -> None:
    with autotask_client(big_autotask) as client:
        companies = list(client.iter_companies())
    refs = [c.ref for c in companies]
    assert len(refs) == len(set(refs)) == active_count(big_autotask.companies) - 1  # minus the MSP (id 0)
    assert "0" not in refs
    assert all(c.active for c in companies)
    inactive = {str(c.id) for c in big_autotask.companies if not c.active}
    assert inactive and not inactive & set(refs)
    # 2,111 active companies at 500 a page: the first query and four POSTed next pages.
    first = big_autotask.requests_to("companies_query")
    nexts = big_autotask.requests_to("companies_next")
    assert len(first) == 1 and len(nexts) == 4
    assert all(r.method == "POST" and r.json() == first[0].json() for r in nexts)
    body = first[0].json()
    assert body["MaxRecords"] == 500
    assert {"op": "eq", "field": "isActive", "value": True} in body["Filter"][0]["items"]


def test_maps_fields_and_country_names(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        company = client.get_company("5")
    assert company is not None
    assert (company.ref, company.name, company.phone) == ("5", "Company 000005 Pty Ltd", "+61 2 90000005")
    assert (company.address_line1, company.city, company.state, company.postcode) == (
        "5 Example Street",
        "Sydney",
        "NSW",
        "2005",
    )
    assert company.country == "New Zealand"
    assert company.address_line2 is None  # "" from the PSA is stored as None
    assert len(fake_autotask.requests_to("countries_query")) == 1


def test_sends_the_three_auth_headers_after_zone_discovery(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        client.search("Company 00001", 5)
    zone = fake_autotask.requests_to("zone")
    assert len(zone) == 1 and zone[0].query == {"user": fake_autotask.username}
    query = fake_autotask.requests_to("companies_query")[0]
    assert query.headers["apiintegrationcode"] == fake_autotask.integration_code
    assert query.headers["username"] == fake_autotask.username
    assert query.headers["secret"] == fake_autotask.secret
    assert query.path.startswith("/atservicesrest/V1.0/")


def test_base_url_override_skips_zone_discovery(fake_autotask: FakeAutotask) -> None:
    with autotask_client(
        fake_autotask, base_url=fake_autotask.zone_url, zone_url="http://127.0.0.1:9/"
    ) as client:
        assert client.get_company("3") is not None
    assert fake_autotask.requests_to("zone") == []


def test_get_company_sees_inactive_and_ignores_the_msp(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        inactive = client.get_company("10")
        assert inactive is not None and inactive.active is False
        assert client.get_company("0") is None
        assert client.get_company("99999") is None
        assert client.get_company("not-a-number") is None


def test_search_asks_autotask_with_contains(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        found = client.search("company 00002", 5)
    assert [c.ref for c in found] == ["21", "22", "23", "24", "25"]  # 20 is inactive
    assert fake_autotask.requests_to("companies_query")[0].json()["Filter"][0]["items"][-1] == {
        "op": "contains",
        "field": "companyName",
        "value": "company 00002",
    }


def test_check_describes_the_zone_and_request_budget(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        text = client.check()
    assert "Fake Zone 5" in text and "requests used" in text


def test_the_fake_refuses_a_get_of_next_page_url(big_autotask: FakeAutotask) -> None:
    headers = {
        "UserName": big_autotask.username,
        "Secret": big_autotask.secret,
        "ApiIntegrationCode": big_autotask.integration_code,
    }
    body = {"MaxRecords": 500, "Filter": [{"op": "gt", "field": "id", "value": 0}]}
    first = httpx.post(big_autotask.zone_url + "V1.0/Companies/query", json=body, headers=headers).json()
    next_url = first["pageDetails"]["nextPageUrl"]
    assert httpx.get(next_url, headers=headers).status_code == 405
    assert httpx.post(next_url, json=body, headers=headers).status_code == 200


# -- credentials --------------------------------------------------------------------------------
def test_unknown_user_fails_zone_discovery_clearly(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask, username="nobody@x") as client, pytest.raises(PsaAuthError) as err:
        client.check()
    assert "could not find the zone of API user 'nobody@x'" in err.value.user_message
    assert "Zone information could not be determined" in err.value.user_message


def test_bad_integration_code_is_an_auth_error_not_a_retry(fake_autotask: FakeAutotask) -> None:
    sleep = RecordingSleep()
    client = autotask_client(fake_autotask, integration_code="WRONG", sleep=sleep)
    with client, pytest.raises(PsaAuthError, match="Autotask rejected the API user or integration code"):
        client.check()
    assert sleep.waits == []


def test_bad_username_with_a_base_url_is_an_auth_error(fake_autotask: FakeAutotask) -> None:
    client = autotask_client(fake_autotask, username="ghost@x", base_url=fake_autotask.zone_url)
    with client, pytest.raises(PsaAuthError, match="rejected the API user or integration code"):
        list(client.iter_companies())


def test_bad_secret_is_an_auth_error(fake_autotask: FakeAutotask) -> None:
    client = autotask_client(fake_autotask, secret="wrong")
    with client, pytest.raises(PsaAuthError, match=r"rejected the API user's secret.*AUTOTASK_SECRET"):
        client.check()


def test_errors_body_is_surfaced_and_not_retried(fake_autotask: FakeAutotask) -> None:
    fake_autotask.fail_next("companies_query", status=500, body='{"errors": ["Invalid filter: bogus field"]}')
    with autotask_client(fake_autotask) as client, pytest.raises(PsaError) as err:
        list(client.iter_companies())
    assert not isinstance(err.value, PsaAuthError)
    assert "Invalid filter: bogus field" in err.value.user_message
    assert len(fake_autotask.requests_to("companies_query")) == 1


# -- transient faults ---------------------------------------------------------------------------
def test_recovers_from_429_mid_paging_honouring_retry_after(big_autotask: FakeAutotask) -> None:
    sleep = RecordingSleep()
    big_autotask.fail_next("companies_next", status=429, retry_after="1")
    with autotask_client(big_autotask, sleep=sleep) as client:
        refs = [c.ref for c in client.iter_companies()]
    assert len(refs) == len(set(refs)) == active_count(big_autotask.companies) - 1
    assert sleep.waits == [1.0]


def test_recovers_from_503_and_an_errorless_500(fake_autotask: FakeAutotask) -> None:
    sleep = RecordingSleep()
    fake_autotask.fail_next("companies_query", status=503)
    fake_autotask.fail_next("companies_query", status=500, body="<html>oops</html>", content_type="text/html")
    with autotask_client(fake_autotask, sleep=sleep) as client:
        assert len(list(client.iter_companies())) == active_count(fake_autotask.companies) - 1
    assert len(sleep.waits) == 2


def test_recovers_from_a_timeout(big_autotask: FakeAutotask) -> None:
    big_autotask.fail_next("companies_next", hold=True)
    with autotask_client(big_autotask, timeout=0.3) as client:
        assert len(list(client.iter_companies())) == active_count(big_autotask.companies) - 1


def test_persistent_outage_ends_in_unavailable(fake_autotask: FakeAutotask) -> None:
    fake_autotask.fail_next("companies_query", status=503, times=10)
    with (
        autotask_client(fake_autotask) as client,
        pytest.raises(PsaUnavailable, match="Autotask answered HTTP 503"),
    ):
        list(client.iter_companies())


def test_malformed_json_is_a_clear_error(fake_autotask: FakeAutotask) -> None:
    fake_autotask.fail_next("companies_query", status=200, body='{"items": [')
    with (
        autotask_client(fake_autotask) as client,
        pytest.raises(PsaError, match="Autotask sent a malformed response"),
    ):
        list(client.iter_companies())


# -- limits ------------------------------------------------------------------------------------
def test_never_more_than_three_requests_in_flight(fake_autotask: FakeAutotask) -> None:
    client = autotask_client(fake_autotask, base_url=fake_autotask.zone_url)
    client.get_company("1")  # countries loaded, threshold read: the next calls are one request each
    fake_autotask.gate = threading.Event()
    threads = [threading.Thread(target=client.get_company, args=(str(i),)) for i in range(2, 10)]
    for t in threads:
        t.start()
    try:
        assert fake_autotask.wait_in_flight(3)
        assert not fake_autotask.wait_in_flight(4, timeout=0.3)
    finally:
        fake_autotask.gate.set()
        for t in threads:
            t.join()
        client.close()
    assert fake_autotask.max_in_flight == 3
    assert len(fake_autotask.requests_to("company_get")) == 9


def test_slows_down_near_the_hourly_threshold(big_autotask: FakeAutotask) -> None:
    big_autotask.used = 9_000  # 1,000 left for 60 minutes: one request per 3.6 s
    sleep = RecordingSleep()
    with autotask_client(big_autotask, sleep=sleep, threshold=ThresholdPolicy(check_every=2)) as client:
        list(client.iter_companies())
    requests = len(big_autotask.requests_to("companies_query")) + len(
        big_autotask.requests_to("companies_next")
    )
    throttled = requests + 2  # plus the company-type picklist and the Countries query
    assert len(sleep.waits) == throttled
    assert sleep.waits[0] == pytest.approx(3600 / 1000, rel=0.01)
    # it keeps checking (every 2 requests) and the spacing grows as the budget shrinks
    assert len(big_autotask.requests_to("threshold")) == (throttled + 1) // 2
    assert sleep.waits[-1] > sleep.waits[0]


def test_no_delay_with_budget_to_spare(fake_autotask: FakeAutotask) -> None:
    sleep = RecordingSleep()
    with autotask_client(fake_autotask, sleep=sleep) as client:
        list(client.iter_companies())
    assert sleep.waits == []
    assert len(fake_autotask.requests_to("threshold")) == 1


def test_stops_when_the_threshold_is_used_up(fake_autotask: FakeAutotask) -> None:
    fake_autotask.used = 10_000
    with (
        autotask_client(fake_autotask) as client,
        pytest.raises(PsaUnavailable, match="threshold is used up"),
    ):
        list(client.iter_companies())


def typed_book() -> list[FakeCompany]:
    kinds = ["Customer", "Vendor", "Lead", "Prospect", "Customer", "Partner", "Dead"]
    return [FakeCompany(id=i, name=f"{kind} {i}", kind=kind) for i, kind in enumerate(kinds, start=1)]


def test_only_customers_by_default_and_the_setting_widens_it() -> None:
    with FakeAutotask(typed_book()) as fake:
        with autotask_client(fake) as client:
            assert [c.name for c in client.iter_companies()] == ["Customer 1", "Customer 5"]
            assert [c.name for c in client.search("", 10)] == ["Customer 1", "Customer 5"]
            vendor = client.get_company("2")
            assert vendor is not None and not vendor.active  # a vendor is not a customer to rebill
        query = fake.requests_to("companies_query")[0].json()
        assert {"op": "in", "field": "companyType", "value": [1]} in query["Filter"][0]["items"]
        assert len(fake.requests_to("company_fields")) == 1  # the picklist is read once per client
        with autotask_client(fake, company_types=["customer", "VENDOR", "8"]) as client:
            names = [c.name for c in client.iter_companies()]
        assert names == ["Customer 1", "Vendor 2", "Customer 5", "Partner 6"]
        fake.requests.clear()
        with autotask_client(fake, company_types=["*"]) as client:
            assert len(list(client.iter_companies())) == 7
        assert fake.requests_to("company_fields") == []


def test_an_unknown_company_type_name_is_a_settings_error() -> None:
    with (
        FakeAutotask(typed_book()) as fake,
        autotask_client(fake, company_types=["Clients"]) as client,
        pytest.raises(PsaConfigError) as err,
    ):
        list(client.iter_companies())
    message = err.value.user_message
    assert "AUTOTASK_COMPANY_TYPES names Clients" in message and "Customer, Dead, Lead" in message


def test_a_next_page_on_another_host_is_refused(big_autotask: FakeAutotask) -> None:
    big_autotask.next_host = "localhost"  # same machine, another host name: credentials must not go
    with autotask_client(big_autotask) as client, pytest.raises(PsaError, match="not following it"):
        list(client.iter_companies())
    assert big_autotask.requests_to("companies_next") == []
    hosts = {r.headers["host"].split(":")[0] for r in big_autotask.requests if "secret" in r.headers}
    assert hosts == {"127.0.0.1"}


def test_zone_discovery_carries_no_credentials(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        client.get_company("1")
    [zone] = fake_autotask.requests_to("zone")
    assert not {"secret", "apiintegrationcode"} & set(zone.headers)
    assert fake_autotask.requests_to("company_get")[0].headers["secret"] == fake_autotask.secret


def test_a_401_rediscovers_the_zone_once(fake_autotask: FakeAutotask) -> None:
    with autotask_client(fake_autotask) as client:
        assert client.get_company("1") is not None
        fake_autotask.move_zone("/zone7/atservicesrest/")
        assert client.get_company("2") is not None
        assert len(fake_autotask.requests_to("zone")) == 2
        assert fake_autotask.requests_to("company_get")[-1].path.startswith("/zone7/")
    with autotask_client(fake_autotask, secret="wrong") as client, pytest.raises(PsaAuthError):
        client.get_company("1")
    assert len(fake_autotask.requests_to("zone")) == 4  # first discovery, then once more only
