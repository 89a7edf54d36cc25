"""Resync of linked end customers from the PSA: synced fields only, flags, audit trail."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core import customers
from core.psa_cache import cached_lookup, refresh_cache, search_cache
from core.psa_sync import sync_customers
from integrations.base import Company
from models.customers import EndCustomer
from models.system import AuditLog
from tests.harness.clock import FixedClock
from tests.harness.fake_psa import FakeAutotask, autotask_client, make_companies

ACTOR = "system:psa_sync"


def add_customer(db: Session, clock: FixedClock, name: str, ref: str | None, **fields: object) -> EndCustomer:
    customer = EndCustomer(
        company_name=name,
        name_key=name.casefold(),
        psa_kind="autotask" if ref else None,
        psa_ref=ref,
        created_by="U0ADMIN",
        updated_by="U0ADMIN",
        created_at=clock.now(),
        updated_at=clock.now(),
        **fields,  # type: ignore[arg-type]
    )
    db.add(customer)
    db.commit()
    return customer


def psa(ref: str, name: str, *, active: bool = True, **fields: str | None) -> Company:
    return Company(psa_kind="autotask", ref=ref, name=name, active=active, **fields)  # type: ignore[arg-type]


def audits(db: Session) -> list[AuditLog]:
    return list(db.exec(select(AuditLog).order_by(AuditLog.id)).all())


def test_refreshes_synced_fields_and_leaves_ours_alone(db: Session, clock: FixedClock) -> None:
    acme = add_customer(
        db,
        clock,
        "Acme",
        "101",
        email="ap@acme.example",
        payment_terms_days=30,
        contact_number="02 1111 1111",
        city="Sydney",
    )
    manual = add_customer(db, clock, "Manual Co", None, email="m@x.example")
    clock.advance(days=1)
    companies = {
        "101": psa(
            "101",
            "Acme Group",
            phone="02 9999 9999",
            address_line1="1 New St",
            city="Sydney",
            state="NSW",
            postcode="2000",
            country="Australia",
        )
    }
    result = sync_customers(db=db, psa_kind="autotask", companies_by_ref=companies, actor=ACTOR, clock=clock)
    db.commit()
    assert (result.checked, result.updated, result.unchanged) == (1, 1, 0)
    db.refresh(acme)
    assert (acme.company_name, acme.name_key, acme.contact_number) == (
        "Acme Group",
        "acme group",
        "02 9999 9999",
    )
    assert (acme.address_line1, acme.state, acme.postcode, acme.country) == (
        "1 New St",
        "NSW",
        "2000",
        "Australia",
    )
    assert (acme.email, acme.payment_terms_days, acme.psa_ref) == ("ap@acme.example", 30, "101")
    assert acme.psa_synced_at == clock.now() and acme.updated_by == ACTOR and not acme.psa_inactive
    db.refresh(manual)
    assert manual.psa_synced_at is None and manual.updated_by == "U0ADMIN"
    [audit] = audits(db)
    assert (audit.actor, audit.entity, audit.entity_id, audit.action) == (
        ACTOR,
        "customer",
        str(acme.id),
        "psa_sync",
    )
    assert audit.changes == {
        "company_name": ["Acme", "Acme Group"],
        "contact_number": ["02 1111 1111", "02 9999 9999"],
        "address_line1": [None, "1 New St"],
        "state": [None, "NSW"],
        "postcode": [None, "2000"],
        "country": [None, "Australia"],
    }


def test_a_second_run_changes_nothing(db: Session, clock: FixedClock) -> None:
    add_customer(db, clock, "Acme", "101")
    companies = {"101": psa("101", "Acme", phone="1")}
    sync_customers(db=db, psa_kind="autotask", companies_by_ref=companies, actor=ACTOR, clock=clock)
    db.commit()
    again = sync_customers(db=db, psa_kind="autotask", companies_by_ref=companies, actor=ACTOR, clock=clock)
    db.commit()
    assert (again.updated, again.unchanged) == (0, 1)
    assert len(audits(db)) == 1


def test_absent_or_inactive_companies_are_flagged_not_archived(db: Session, clock: FixedClock) -> None:
    gone = add_customer(db, clock, "Gone", "1", city="Perth")
    dormant = add_customer(db, clock, "Dormant", "2")
    archived = add_customer(db, clock, "Old", "3", archived_at=clock.now())
    lookup = {"2": psa("2", "Dormant", active=False)}.get
    result = sync_customers(db=db, psa_kind="autotask", companies_by_ref=lookup, actor=ACTOR, clock=clock)
    db.commit()
    assert (result.checked, result.deactivated) == (2, 2)
    for customer in (gone, dormant, archived):
        db.refresh(customer)
    assert gone.psa_inactive and gone.archived_at is None and gone.city == "Perth"
    assert gone.psa_synced_at is None  # the PSA no longer answers for it
    assert dormant.psa_inactive and dormant.psa_synced_at == clock.now()
    assert not archived.psa_inactive  # archived customers are left alone
    assert {a.entity_id: a.changes for a in audits(db)} == {
        str(gone.id): {"psa_inactive": [False, True]},
        str(dormant.id): {"psa_inactive": [False, True]},
    }
    back = sync_customers(
        db=db,
        psa_kind="autotask",
        companies_by_ref={"1": psa("1", "Gone", city="Perth")},
        actor=ACTOR,
        clock=clock,
    )
    db.commit()
    db.refresh(gone)
    assert back.reactivated == 1 and not gone.psa_inactive


def test_a_rename_onto_another_customers_name_keeps_the_old_name(db: Session, clock: FixedClock) -> None:
    add_customer(db, clock, "Beta", None)
    alpha = add_customer(db, clock, "Alpha", "7")
    result = sync_customers(
        db=db,
        psa_kind="autotask",
        companies_by_ref={"7": psa("7", "BETA", phone="5")},
        actor=ACTOR,
        clock=clock,
    )
    db.commit()
    db.refresh(alpha)
    assert result.name_conflicts == [alpha.id]
    assert alpha.company_name == "Alpha" and alpha.contact_number == "5"


def test_long_psa_values_are_cut_to_our_columns(db: Session, clock: FixedClock) -> None:
    customer = add_customer(db, clock, "Long", "9")
    sync_customers(
        db=db,
        psa_kind="autotask",
        companies_by_ref={"9": psa("9", "L" * 150, phone="1" * 40)},
        actor=ACTOR,
        clock=clock,
    )
    db.commit()
    db.refresh(customer)
    assert len(customer.company_name) == 100 and len(customer.contact_number or "") == 30


def test_resync_applies_a_psa_side_change_end_to_end(engine: Engine, db: Session, clock: FixedClock) -> None:
    with FakeAutotask(make_companies(700)) as fake, autotask_client(fake) as client:
        refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock)
        renamed = add_customer(db, clock, "Company 000005 Pty Ltd", "5", email="a@b.example")
        dropped = add_customer(db, clock, "Company 000600 Pty Ltd", "601")
        db.commit()
        fake.companies[5].name, fake.companies[5].phone = "Five Star IT", "1300 555 555"
        fake.companies[601].active = False
        clock.advance(hours=6)
        refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock)
    result = sync_customers(
        db=db,
        psa_kind="autotask",
        companies_by_ref=cached_lookup(db=db, psa_kind="autotask"),
        actor=ACTOR,
        clock=clock,
    )
    db.commit()
    assert (result.checked, result.updated, result.deactivated) == (2, 2, 1)
    db.refresh(renamed)
    db.refresh(dropped)
    assert (renamed.company_name, renamed.contact_number, renamed.email) == (
        "Five Star IT",
        "1300 555 555",
        "a@b.example",
    )
    assert dropped.psa_inactive and dropped.archived_at is None
    changes = {a.entity_id: a.changes for a in audits(db)}
    assert changes[str(renamed.id)]["company_name"] == ["Company 000005 Pty Ltd", "Five Star IT"]
    assert changes[str(dropped.id)] == {"psa_inactive": [False, True]}


def test_an_empty_psa_field_keeps_the_typed_value(db: Session, clock: FixedClock) -> None:
    """The Halo bug: a PSA that sends no address must not wipe an address typed in by hand."""
    typed = {"address_line1": "5 Typed St", "city": "Hobart", "state": "TAS", "postcode": "7000"}
    customer = add_customer(db, clock, "Typed", "11", contact_number="03 6000 0000", **typed)
    result = sync_customers(
        db=db,
        psa_kind="autotask",
        companies_by_ref={"11": psa("11", "Typed", phone="03 6111 1111", city="", state=None)},
        actor=ACTOR,
        clock=clock,
    )
    db.commit()
    db.refresh(customer)
    assert (customer.address_line1, customer.city, customer.state, customer.postcode) == (
        "5 Typed St",
        "Hobart",
        "TAS",
        "7000",
    )
    assert customer.contact_number == "03 6111 1111"
    [change] = result.changes
    assert (change.customer_id, change.name) == (customer.id, "Typed")
    assert change.fields == {"contact_number": ["03 6000 0000", "03 6111 1111"]}
    assert [a.changes for a in audits(db)] == [change.fields]


def test_the_psa_billing_email_fills_only_an_empty_email(db: Session, clock: FixedClock) -> None:
    empty = add_customer(db, clock, "Empty", "21")
    kept = add_customer(db, clock, "Kept", "22", email="mine@kept.example")
    bad = add_customer(db, clock, "Bad", "23")
    companies = {
        "21": psa("21", "Empty", email="accounts@empty.example"),
        "22": psa("22", "Kept", email="accounts@kept.example"),
        "23": psa("23", "Bad", email="not an address"),
    }
    result = sync_customers(db=db, psa_kind="autotask", companies_by_ref=companies, actor=ACTOR, clock=clock)
    db.commit()
    for customer in (empty, kept, bad):
        db.refresh(customer)
    assert (empty.email, kept.email, bad.email) == ("accounts@empty.example", "mine@kept.example", None)
    assert [(c.customer_id, c.fields) for c in result.changes] == [
        (empty.id, {"email": [None, "accounts@empty.example"]})
    ]


def test_a_psa_name_with_a_double_space_is_found_by_the_name_people_type(
    engine: Engine, db: Session, clock: FixedClock
) -> None:
    """One `name_key` for the PSA cache, the sync and the customer lookups (the double-space bug)."""
    with FakeAutotask(make_companies(20)) as fake, autotask_client(fake) as client:
        fake.companies[5].name = "Acme  Dental   Group"
        refresh_cache(engine=engine, client=client, psa_kind="autotask", clock=clock)
        linked = add_customer(db, clock, "Company 000005 Pty Ltd", "5", email="a@b.example")
    found = search_cache(db=db, psa_kind="autotask", text="acme dental group")
    assert [c.psa_id for c in found] == ["5"]
    assert [c.psa_id for c in search_cache(db=db, psa_kind="autotask", text="Acme  Dental")] == ["5"]
    sync_customers(
        db=db,
        psa_kind="autotask",
        companies_by_ref=cached_lookup(db=db, psa_kind="autotask"),
        actor=ACTOR,
        clock=clock,
    )
    db.commit()
    for typed in ("Acme  Dental   Group", "acme dental group", " ACME DENTAL GROUP "):
        assert customers.find(db, typed).id == linked.id
