"""Each vendor's documented response shape (tests/integrations/samples/) through the real client.

The fakes are ours; these samples are the vendors' shapes (see samples/README.md for the source of
each). A client reading a field the vendor does not send, or missing one it does, fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.autotask import AutotaskClient
from integrations.base import Company
from integrations.connectwise import ConnectWiseClient
from integrations.halopsa import HaloPsaClient
from tests.harness.fake_psa import FakeCompany, FakeHaloPSA, RecordingSleep

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def serve(routes: dict[str, Any], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Answer each request from the sample whose key is in its path, else 404."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        for key, body in routes.items():
            if request.url.path.lower().endswith(key.lower()):
                return httpx.Response(200, json=body)
        return httpx.Response(404, json={"errors": ["not in the samples"]})

    return httpx.MockTransport(handler)


def test_halopsa_sample_maps_the_main_site_not_the_warehouse() -> None:
    seen: list[httpx.Request] = []
    transport = serve(
        {
            "/auth/token": {"access_token": "t", "token_type": "Bearer", "expires_in": 3600},
            "/api/Client": sample("halopsa_clients.json"),
            "/api/Site": sample("halopsa_sites.json"),
        },
        seen,
    )
    client = HaloPsaClient(
        url="https://acme.halopsa.example", client_id="i", client_secret="s", transport=transport
    )
    with client:
        companies = list(client.iter_companies())
    assert companies == [
        Company(
            "halopsa",
            "21",
            "Harbour Dental Group",
            "+61 2 9111 2222",
            "Level 3",
            "10 Pitt St",
            "Sydney",
            "NSW",
            "2000",
            "Australia",
            True,
            "accounts@harbourdental.example",
        ),
        Company(
            "halopsa",
            "22",
            "Coastal Motors",
            "07 3000 1111",
            "88 Gold Coast Hwy",
            None,
            "Southport",
            "QLD",
            "4215",
            "Australia",
            True,
            None,
        ),
    ]
    sites = [r for r in seen if r.url.path == "/api/Site"]
    assert sites and all(r.url.params["includeaddress"] == "true" for r in sites)


def test_autotask_sample_maps_customers_with_country_names() -> None:
    seen: list[httpx.Request] = []
    transport = serve(
        {
            "zoneInformation": sample("autotask_zone.json"),
            "Companies/entityInformation/fields": sample("autotask_company_fields.json"),
            "Companies/query": sample("autotask_companies_query.json"),
            "Countries/query": sample("autotask_countries_query.json"),
            "ThresholdInformation": {
                "externalRequestThreshold": 10000,
                "requestThresholdTimeframe": 60,
                "currentTimeframeRequestCount": 12,
            },
        },
        seen,
    )
    client = AutotaskClient(
        username="api@acme.example",
        secret="s",
        integration_code="c",
        transport=transport,
        sleep=RecordingSleep(),
    )
    with client:
        companies = list(client.iter_companies())
    assert [(c.ref, c.name, c.address_line1, c.address_line2, c.city, c.country) for c in companies] == [
        ("29683501", "Harbour Dental Group", "10 Pitt St", "Level 3", "Sydney", "Australia"),
        ("29683502", "Coastal Motors", None, None, "Brisbane", None),
    ]
    query = next(r for r in seen if r.url.path.endswith("Companies/query"))
    assert query.url.host == "webservices5.autotask.net"  # the zone's host, as the sample says
    assert {"op": "in", "field": "companyType", "value": [1]} in json.loads(query.content)["Filter"][0][
        "items"
    ]


def test_connectwise_sample_uses_status_flags_types_and_the_setting() -> None:
    routes = {
        "company/companies/statuses": sample("connectwise_statuses.json"),
        "company/companies": sample("connectwise_companies.json"),
    }

    def build(**kwargs: Any) -> ConnectWiseClient:
        return ConnectWiseClient(
            site="api-au.myconnectwise.example",
            company_id="acme",
            public_key="p",
            private_key="k",
            client_id="c",
            transport=serve(routes, []),
            **kwargs,
        )

    with build() as client:
        companies = list(client.iter_companies())
    # Telco Supplies is a vendor; Old Co's "Not-Approved" status has inactiveFlag
    assert [(c.ref, c.name, c.phone, c.postcode, c.country) for c in companies] == [
        ("250", "Harbour Dental Group", "0291112222", "2000", "Australia"),
        ("251", "Coastal Motors", "0730001111", "4215", "Australia"),
    ]
    with build(inactive_statuses=["Credit Hold"]) as client:
        assert [c.ref for c in client.iter_companies()] == ["250"]


def schema_properties(name: str) -> set[str]:
    spec = sample("halopsa_openapi_subset.json")
    return set(spec["components"]["schemas"][name]["properties"])


@pytest.mark.parametrize(
    ("schema", "rows"),
    [
        ("Area", lambda: sample("halopsa_clients.json")["clients"]),
        ("Site_List", lambda: sample("halopsa_sites.json")["sites"]),
    ],
)
def test_halopsa_samples_use_only_published_fields(schema: str, rows: Callable[[], list[dict]]) -> None:
    used = {key for row in rows() for key in row}
    assert used <= schema_properties(schema), used - schema_properties(schema)


def test_the_fake_halo_server_uses_only_published_fields() -> None:
    fake = FakeHaloPSA()
    company = FakeCompany(
        id=8, name="Eight", email="a@b.example", city="Sydney", state="NSW", postcode="2000"
    )
    client_keys = set(fake.render(company)) | set(fake.render(company, listed=True))
    site_keys = {k for site in fake.sites_of(company, address=True) for k in site}
    assert client_keys <= schema_properties("Area"), client_keys - schema_properties("Area")
    assert site_keys <= schema_properties("Site_List"), site_keys - schema_properties("Site_List")
    spec = sample("halopsa_openapi_subset.json")
    site_params = {p["name"] for p in spec["paths"]["/Site"]["get"]["parameters"]}
    assert {"client_id", "includeaddress", "pageinate", "page_size", "page_no"} <= site_params
