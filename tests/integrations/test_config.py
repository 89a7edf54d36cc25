"""PsaSettings names what is missing for the chosen vendor; make_client builds a working client."""

from __future__ import annotations

import pytest

from integrations.autotask import AutotaskClient
from integrations.base import PsaClient, PsaConfigError
from integrations.config import PsaSettings, load_psa_settings, make_client
from tests.harness.fake_psa import FakeAutotask, FakeCompany, FakeConnectWise, FakeHaloPSA, RecordingSleep


def settings(**values: object) -> PsaSettings:
    return load_psa_settings(_env_file=None, **values)


def test_no_psa_means_no_client() -> None:
    assert make_client(settings()) is None
    assert make_client(settings(rebill_psa="")) is None


def test_missing_variables_are_named_for_the_chosen_vendor() -> None:
    with pytest.raises(PsaConfigError) as err:
        settings(rebill_psa="autotask", autotask_username="api@x")
    message = err.value.user_message
    assert "AUTOTASK_SECRET is not set" in message
    assert "AUTOTASK_INTEGRATION_CODE is not set" in message
    assert "AUTOTASK_USERNAME" not in message
    with pytest.raises(PsaConfigError, match="CONNECTWISE_CLIENT_ID is not set"):
        settings(
            rebill_psa="connectwise",
            connectwise_site="h",
            connectwise_company_id="c",
            connectwise_public_key="p",
            connectwise_private_key="k",
        )
    with pytest.raises(PsaConfigError, match="HALOPSA_URL is not set"):
        settings(rebill_psa="halopsa", halopsa_client_id="i", halopsa_client_secret="s")


def test_unknown_vendor_and_bad_urls_are_explained() -> None:
    with pytest.raises(PsaConfigError, match="REBILL_PSA"):
        settings(rebill_psa="kaseya")
    with pytest.raises(PsaConfigError, match="HALOPSA_URL must be an http"):
        settings(
            rebill_psa="halopsa",
            halopsa_url="acme.halopsa.com",
            halopsa_client_id="i",
            halopsa_client_secret="s",
        )


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REBILL_PSA", "Autotask")
    monkeypatch.setenv("AUTOTASK_USERNAME", "api@x")
    monkeypatch.setenv("AUTOTASK_SECRET", "top-secret")
    monkeypatch.setenv("AUTOTASK_INTEGRATION_CODE", "CODE")
    loaded = load_psa_settings(_env_file=None)
    assert loaded.rebill_psa == "autotask"
    assert "top-secret" not in repr(loaded)


def test_make_client_autotask_with_zone_override() -> None:
    with FakeAutotask() as fake:
        s = settings(
            rebill_psa="autotask",
            autotask_username=fake.username,
            autotask_secret=fake.secret,
            autotask_integration_code=fake.integration_code,
            autotask_zone_url=fake.zone_url,
        )
        client = make_client(s, sleep=RecordingSleep(), clock=None)
        assert isinstance(client, AutotaskClient) and isinstance(client, PsaClient)
        with client:
            assert "Fake Zone 5" in client.check()


def test_make_client_connectwise_and_halo() -> None:
    with FakeConnectWise() as cw, FakeHaloPSA() as halo:
        cw_client = make_client(
            settings(
                rebill_psa="connectwise",
                connectwise_site=cw.base_url,
                connectwise_company_id=cw.company_id,
                connectwise_public_key=cw.public_key,
                connectwise_private_key=cw.private_key,
                connectwise_client_id=cw.client_id,
            )
        )
        halo_client = make_client(
            settings(
                rebill_psa="halopsa",
                halopsa_url=halo.url,
                halopsa_client_id=halo.client_id,
                halopsa_client_secret=halo.client_secret,
            ),
            timeout=2.0,
        )
        assert cw_client is not None and halo_client is not None
        with cw_client, halo_client:
            assert "ConnectWise" in cw_client.check()
            assert "HaloPSA" in halo_client.check()


def test_make_client_rejects_unknown_overrides() -> None:
    with pytest.raises(TypeError, match="tranport"):
        make_client(settings(), tranport=None)


def test_type_and_status_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_psa_settings(_env_file=None)
    assert loaded.autotask_company_types == ("Customer",)
    assert loaded.connectwise_company_types == ("Client",)
    assert loaded.connectwise_inactive_statuses == ()
    monkeypatch.setenv("AUTOTASK_COMPANY_TYPES", " Customer ,Vendor,, 8 ")
    monkeypatch.setenv("CONNECTWISE_COMPANY_TYPES", "")
    monkeypatch.setenv("CONNECTWISE_INACTIVE_STATUSES", "Credit Hold, Former  Client,17")
    loaded = load_psa_settings(_env_file=None)
    assert loaded.autotask_company_types == ("Customer", "Vendor", "8")
    assert loaded.connectwise_company_types == ("Client",)  # empty would import nobody
    assert loaded.connectwise_inactive_statuses == ("Credit Hold", "Former Client", "17")


def test_make_client_passes_types_and_statuses_on() -> None:
    book = [FakeCompany(id=1, name="Client 1"), FakeCompany(id=2, name="Vendor 2", kind="Vendor")]
    book.append(FakeCompany(id=3, name="Held 3", status="Credit Hold"))
    with FakeConnectWise(book, deleted_every=0) as cw:
        values = {
            "rebill_psa": "connectwise",
            "connectwise_site": cw.base_url,
            "connectwise_company_id": cw.company_id,
            "connectwise_public_key": cw.public_key,
            "connectwise_private_key": cw.private_key,
            "connectwise_client_id": cw.client_id,
        }
        with make_client(settings(**values)) as client:  # type: ignore[union-attr]
            assert [c.ref for c in client.iter_companies()] == ["1", "3"]
        widened = settings(
            **values, connectwise_company_types="Client,Vendor", connectwise_inactive_statuses="Credit Hold"
        )
        with make_client(widened) as client:  # type: ignore[union-attr]
            assert [c.ref for c in client.iter_companies()] == ["1", "2"]
    with FakeAutotask([FakeCompany(id=5, name="V", kind="Vendor")]) as at:
        values = {
            "rebill_psa": "autotask",
            "autotask_username": at.username,
            "autotask_secret": at.secret,
            "autotask_integration_code": at.integration_code,
            "autotask_zone_url": at.zone_url,
        }
        with make_client(settings(**values), sleep=RecordingSleep()) as client:  # type: ignore[union-attr]
            assert list(client.iter_companies()) == []
        with make_client(
            settings(**values, autotask_company_types="Vendor"), sleep=RecordingSleep()
        ) as client:  # type: ignore[union-attr]
            assert [c.ref for c in client.iter_companies()] == ["5"]
