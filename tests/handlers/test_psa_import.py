"""Import and link end customers from each PSA, end to end: signed requests in, fake Slack and a
fake PSA server (real HTTP, the vendor's shapes) out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.customers import EndCustomer
from models.psa import PsaCompany
from models.system import AuditLog
from tests import factories
from tests.conftest import SIGNING_SECRET
from tests.harness.app_server import AppServer
from tests.harness.clock import FixedClock
from tests.harness.fake_psa import FakeAutotask, FakeCompany, FakeConnectWise, FakeHaloPSA, FakePsaServer
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender, text_value
from tests.harness.slack_views import (
    VALID,
    form_values,
    psa_settings,
    texts,
)

BOOK = [
    FakeCompany(
        id=101,
        name="Harbour Dental Group",
        phone="+61 2 9111 2222",
        address1="10 Pitt St",
        city="Sydney",
        state="NSW",
        postcode="2000",
        country_id=14,
    ),
    FakeCompany(
        id=102,
        name="Coastal Motors",
        phone="07 3000 1111",
        city="Brisbane",
        state="QLD",
        postcode="4000",
        country_id=14,
    ),
    FakeCompany(id=103, name="Harbour Legal (closed)", active=False, city="Sydney"),
]


FAKES = {"autotask": FakeAutotask, "connectwise": FakeConnectWise, "halopsa": FakeHaloPSA}


@pytest.fixture(params=sorted(FAKES))
def psa(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakePsaServer]]:
    with FAKES[request.param]([replace(c) for c in BOOK]) as fake:  # tests change companies: copy them
        if request.param == "connectwise":
            fake.deleted_every = 0  # keep the whole book visible
        yield request.param, fake


@pytest.fixture
def psa_slack(
    psa: tuple[str, Any], settings: Any, engine: Engine, clock: FixedClock, fake_slack: FakeSlack
) -> Iterator[SlackSender]:
    kind, fake = psa
    factories.configure(engine)
    with ExitStack() as stack:
        server = AppServer(settings, engine, clock, psa=psa_settings(kind, fake)).start()
        stack.callback(server.stop)
        yield SlackSender(
            server.url + "/slack/events",
            SIGNING_SECRET,
            response_url=fake_slack.response_url,
            after_request=server.executor.wait_idle,
        )


def choose_import(slack: SlackSender, fake: FakeSlack) -> dict[str, Any]:
    slack.command("new")
    chooser = fake.wait_for("views.open")[-1].params["view"] | {"id": "V0IMPORT"}
    vendor_button = chooser["blocks"][1]["elements"][1]
    assert vendor_button["action_id"] == "customer_new_import"
    slack.block_action("customer_new_import", view=chooser)
    return fake.calls_to("views.update")[-1].params["view"] | {"id": "V0IMPORT"}


def options(
    slack: SlackSender, view: dict[str, Any], typed: str, action_id: str = "psa_company"
) -> list[dict[str, Any]]:
    return slack.block_suggestion(action_id, typed, block_id="psa_ref", view=view).json()["options"]


def picked(ref: str) -> dict[str, Any]:
    return {"psa_ref": {"psa_company": {"type": "external_select", "selected_option": {"value": ref}}}}


def test_import_end_to_end(
    psa_slack: SlackSender, fake_slack: FakeSlack, engine: Engine, psa: tuple[str, Any]
) -> None:
    kind, _ = psa
    picker = choose_import(psa_slack, fake_slack)
    updates = [c.params["view"] for c in fake_slack.calls_to("views.update")]
    assert "Loading your companies" in texts(updates[-2]["blocks"])  # the empty cache was filled live
    assert "2 active companies" in texts(picker["blocks"])

    found = options(psa_slack, picker, "HARBOUR")
    assert [o["text"]["text"] for o in found] == ["Harbour Dental Group · Sydney"]  # inactive one excluded
    assert options(psa_slack, picker, "motors")[0]["value"] == "102"
    assert len(options(psa_slack, picker, "")) == 2

    details = psa_slack.view_submission(picker, picked("101")).json()
    assert details["response_action"] == "update"
    shown = texts(details["view"]["blocks"])
    assert "*Company name:* Harbour Dental Group" in shown and "#101" in shown and "+61 2 9111 2222" in shown
    assert "10 Pitt St" in shown

    form = details["view"] | {"id": "V0IMPORT"}
    bad = psa_slack.view_submission(
        form, {"email": {"value": text_value("nope")}, "payment_terms_days": {"value": text_value("")}}
    )
    assert list(bad.json()["errors"]) == ["email"]
    saved = psa_slack.view_submission(
        form,
        {
            "email": {"value": text_value("ap@harbour.example")},
            "payment_terms_days": {"value": text_value("14")},
        },
    ).json()
    assert saved["response_action"] == "update" and "Resync" in texts(saved["view"]["blocks"])
    with Session(engine) as db:
        customer = db.exec(select(EndCustomer)).one()
    assert (
        customer.company_name,
        customer.psa_kind,
        customer.psa_ref,
        customer.email,
        customer.payment_terms_days,
    ) == ("Harbour Dental Group", kind, "101", "ap@harbour.example", 14)
    assert (customer.contact_number, customer.city, customer.postcode) == (
        "+61 2 9111 2222",
        "Sydney",
        "2000",
    )
    assert customer.psa_synced_at is not None

    # The same company again: refused at the first step, naming the customer.
    picker = choose_import(psa_slack, fake_slack)
    errors = psa_slack.view_submission(picker, picked("101")).json()["errors"]
    assert "Already imported as “Harbour Dental Group”" in errors["psa_ref"]


def test_manual_customer_must_be_linked_and_resync_applies_psa_changes(
    psa_slack: SlackSender, fake_slack: FakeSlack, engine: Engine, psa: tuple[str, Any]
) -> None:
    _, fake = psa
    choose_import(psa_slack, fake_slack)  # fills the cache
    psa_slack.command("new")
    chooser = fake_slack.wait_for("views.open")[-1].params["view"] | {"id": "V0MANUAL"}
    psa_slack.block_action("customer_new_manual", view=chooser)
    form = fake_slack.calls_to("views.update")[-1].params["view"] | {"id": "V0MANUAL"}
    assert any(b.get("block_id") == "psa_ref" for b in form["blocks"])
    assert options(psa_slack, form, "coastal", action_id="psa_link")[0]["value"] == "102"

    unlinked = psa_slack.view_submission(form, form_values(**VALID)).json()["errors"]
    assert "psa_ref" in unlinked
    values = form_values(**(VALID | {"company_name": "Coastal Motors Pty"}))
    values["psa_ref"] = {"psa_link": {"type": "external_select", "selected_option": {"value": "102"}}}
    view = psa_slack.view_submission(form, values).json()["view"] | {"id": "V0MANUAL"}
    with Session(engine) as db:
        customer = db.exec(select(EndCustomer)).one()
    assert (customer.psa_ref, customer.email) == ("102", "Accounts@acme.com.au")

    # The PSA renames the company and moves it; Resync applies the synced fields, never the e-mail.
    company = next(c for c in fake.companies if c.id == 102)
    company.name, company.city, company.phone = "Coastal Motor Group", "Gold Coast", "07 5555 0000"
    psa_slack.block_action("psa_resync", value=str(customer.id), view=view)
    refreshed = fake_slack.calls_to("views.update")[-1].params["view"]
    assert refreshed["blocks"][0]["text"]["text"] == "Coastal Motor Group"
    note = texts(refreshed["blocks"][1:2])
    assert "Company name: Coastal Motors Pty → Coastal Motor Group" in note
    assert "Suburb / city: Sydney → Gold Coast" in note
    with Session(engine) as db:
        customer = db.exec(select(EndCustomer)).one()
        audit = db.exec(select(AuditLog).where(AuditLog.action == "psa_sync")).one()
    assert (customer.company_name, customer.city, customer.email) == (
        "Coastal Motor Group",
        "Gold Coast",
        "Accounts@acme.com.au",
    )
    assert audit.changes["company_name"] == ["Coastal Motors Pty", "Coastal Motor Group"]

    company.active = False
    psa_slack.block_action("psa_resync", value=str(customer.id), view=view)
    assert "(inactive in the PSA)" in texts(fake_slack.calls_to("views.update")[-1].params["view"]["blocks"])
    with Session(engine) as db:
        assert db.exec(select(EndCustomer)).one().archived_at is None  # flagged, not archived


def test_halo_accounts_email_fills_a_blank_email(
    psa_slack: SlackSender, fake_slack: FakeSlack, engine: Engine, psa: tuple[str, Any]
) -> None:
    """Only HaloPSA sends a billing e-mail (`accountsemailaddress`); the others leave it to us."""
    kind, fake = psa
    next(c for c in fake.companies if c.id == 101).email = "accounts@harbourdental.example"
    picker = choose_import(psa_slack, fake_slack)
    details = psa_slack.view_submission(picker, picked("101")).json()
    email_box = next(b for b in details["view"]["blocks"] if b.get("block_id") == "email")
    from_halo = "accounts@harbourdental.example" if kind == "halopsa" else None
    assert email_box["element"].get("initial_value") == from_halo
    form = details["view"] | {"id": "V0IMPORT"}
    saved = psa_slack.view_submission(
        form, {"email": {"value": text_value("")}, "payment_terms_days": {"value": text_value("")}}
    ).json()
    shown = texts(saved["view"]["blocks"])
    assert ("No e-mail address" in shown) is (from_halo is None)
    with Session(engine) as db:
        assert db.exec(select(EndCustomer)).one().email == from_halo


def test_failed_refresh_keeps_the_old_cache(
    psa_slack: SlackSender, fake_slack: FakeSlack, engine: Engine, psa: tuple[str, Any]
) -> None:
    kind, fake = psa
    picker = choose_import(psa_slack, fake_slack)
    fake.fail_next(
        "*", status=401, body='{"errors": ["credentials revoked"]}', times=50
    )  # a credential error: no retries
    psa_slack.block_action("psa_refresh", view=picker)
    after = fake_slack.calls_to("views.update")[-1].params["view"]
    assert "The list below is the last good one" in texts(after["blocks"])
    with Session(engine) as db:
        assert len(db.exec(select(PsaCompany).where(PsaCompany.psa_kind == kind)).all()) == 2
