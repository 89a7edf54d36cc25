"""core.charges over a real database (SQLite and PostgreSQL): changes, refusals and their audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlmodel import Session, col, select

from core import charges
from core.calculation import Period
from core.charge_validation import (
    RecurringChargeFields,
    validate_once_off,
    validate_recurring_charge,
    validate_service,
)
from core.errors import FieldErrors, NotAllowed, NotFound
from models.charges import OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice
from models.system import AuditLog, BillingSettings
from tests.harness.clock import FixedClock

ACTOR = "U0ALICE"


def make_customer(db: Session, name: str = "Acme Pty Ltd", *, archived: bool = False) -> int:
    customer = EndCustomer(
        company_name=name,
        name_key=name.casefold(),
        created_by="test",
        updated_by="test",
        archived_at=datetime(2026, 1, 1, tzinfo=UTC) if archived else None,
    )
    db.add(customer)
    db.commit()
    assert customer.id is not None
    return customer.id


def charge_fields(**overrides: object) -> RecurringChargeFields:
    values: dict[str, object] = {
        "description": "Microsoft 365 Business Premium",
        "unit_price": "22.50",
        "quantity": "3",
        "frequency": "monthly",
        "effective_from": "2026-12-15",
    }
    values.update(overrides)
    return validate_recurring_charge(**values)


def audit_rows(db: Session, entity: str) -> list[AuditLog]:
    return list(db.exec(select(AuditLog).where(AuditLog.entity == entity).order_by(col(AuditLog.id))).all())


def test_add_and_edit_a_recurring_charge_writes_audit(db: Session, clock: FixedClock) -> None:
    customer_id = make_customer(db)
    charge = charges.add_recurring_charge(
        db=db,
        actor=ACTOR,
        customer_id=customer_id,
        data=charge_fields(),
        clock=clock,
    )
    db.commit()
    stored = db.get(RecurringCharge, charge.id)
    assert stored is not None and stored.created_by == ACTOR and stored.updated_at == clock.now()
    (created,) = audit_rows(db, "recurring_charge")
    assert (created.actor, created.action, created.entity_id) == (ACTOR, "create", str(charge.id))
    assert created.changes["unit_price"] == [None, "22.50"]
    assert created.changes["effective_from"] == [None, "2026-12-15"]

    clock.advance(hours=1)
    charges.edit_recurring_charge(
        db=db,
        actor="cli:bob",
        charge_id=charge.id,
        data=charge_fields(quantity="4"),
        clock=clock,
    )
    db.commit()
    db.expire_all()
    stored = db.get(RecurringCharge, charge.id)
    assert stored is not None and stored.quantity == Decimal("4") and stored.updated_by == "cli:bob"
    edit = audit_rows(db, "recurring_charge")[-1]
    assert (edit.actor, edit.action) == ("cli:bob", "update")
    assert list(edit.changes) == ["quantity"]
    assert Decimal(edit.changes["quantity"][0]) == 3 and edit.changes["quantity"][1] == "4"


def test_an_edit_that_changes_nothing_writes_nothing(db: Session) -> None:
    customer_id = make_customer(db)
    charge = charges.add_recurring_charge(
        db=db, actor=ACTOR, customer_id=customer_id, data=charge_fields(), clock=FixedClock()
    )
    db.commit()
    db.expire_all()  # reload, so Decimal("22.5000") from the database meets Decimal("22.50") typed
    charges.edit_recurring_charge(
        db=db, actor=ACTOR, charge_id=charge.id, data=charge_fields(), clock=FixedClock()
    )
    db.commit()
    assert [row.action for row in audit_rows(db, "recurring_charge")] == ["create"]


def test_ending_a_charge_keeps_it(db: Session) -> None:
    customer_id = make_customer(db)
    charge = charges.add_recurring_charge(
        db=db, actor=ACTOR, customer_id=customer_id, data=charge_fields(), clock=FixedClock()
    )
    charges.end_recurring_charge(
        db=db, actor=ACTOR, charge_id=charge.id, end_date="2027-01-31", clock=FixedClock()
    )
    db.commit()
    assert charges.list_recurring_charges(db=db, customer_id=customer_id)[0].end_date == date(2027, 1, 31)
    assert charges.list_recurring_charges(db=db, customer_id=customer_id, as_of=date(2027, 1, 31)) != []
    assert charges.list_recurring_charges(db=db, customer_id=customer_id, as_of=date(2027, 2, 1)) == []
    last = audit_rows(db, "recurring_charge")[-1]
    assert (last.action, last.changes) == ("end_date", {"end_date": [None, "2027-01-31"]})
    with pytest.raises(FieldErrors) as caught:
        charges.end_recurring_charge(
            db=db, actor=ACTOR, charge_id=charge.id, end_date="2026-12-14", clock=FixedClock()
        )
    assert "end_date" in caught.value.errors


def test_charge_service_link_is_checked(db: Session) -> None:
    acme = make_customer(db)
    other = make_customer(db, "Globex")
    theirs = charges.add_service(
        db=db,
        actor=ACTOR,
        customer_id=other,
        data=validate_service(name="Firewall", start_date="2026-01-01"),
        clock=FixedClock(),
    )
    ours = charges.add_service(
        db=db,
        actor=ACTOR,
        customer_id=acme,
        data=validate_service(name="Backup", start_date="2026-01-01"),
        clock=FixedClock(),
    )
    with pytest.raises(FieldErrors) as caught:
        charges.add_recurring_charge(
            db=db,
            actor=ACTOR,
            customer_id=acme,
            data=charge_fields(service_id=theirs.id),
            clock=FixedClock(),
        )
    assert list(caught.value.errors) == ["service_id"]
    charges.cancel_service(db=db, actor=ACTOR, service_id=ours.id, end_date="2026-06-30", clock=FixedClock())
    with pytest.raises(FieldErrors, match="cancelled"):
        charges.add_recurring_charge(
            db=db,
            actor=ACTOR,
            customer_id=acme,
            data=charge_fields(service_id=ours.id),
            clock=FixedClock(),
        )


def test_unknown_and_archived_customers(db: Session) -> None:
    with pytest.raises(NotFound):
        charges.add_recurring_charge(
            db=db, actor=ACTOR, customer_id=999, data=charge_fields(), clock=FixedClock()
        )
    with pytest.raises(NotFound):
        charges.list_services(db=db, customer_id=999)
    archived = make_customer(db, "Old Co", archived=True)
    with pytest.raises(NotAllowed, match="archived"):
        charges.add_once_off(
            db=db,
            actor=ACTOR,
            customer_id=archived,
            data=validate_once_off(description="x", unit_price="1", quantity="1", item_date="2026-01-01"),
            clock=FixedClock(),
        )
    with pytest.raises(NotFound):
        charges.get_recurring_charge(db=db, charge_id=12345)


def test_services_cancel_and_exclude(db: Session) -> None:
    customer_id = make_customer(db)
    service = charges.add_service(
        db=db,
        actor=ACTOR,
        customer_id=customer_id,
        data=validate_service(name="Managed firewall", start_date="2026-01-01", psa_reference="AT-1"),
        clock=FixedClock(),
    )
    charges.edit_service(
        db=db,
        actor=ACTOR,
        service_id=service.id,
        data=validate_service(name="Managed firewall+", start_date="2026-01-01", psa_reference="AT-1"),
        clock=FixedClock(),
    )
    charges.set_exclude_next_invoice(
        db=db, actor=ACTOR, service_id=service.id, exclude=True, clock=FixedClock()
    )
    charges.set_exclude_next_invoice(
        db=db, actor=ACTOR, service_id=service.id, exclude=False, clock=FixedClock()
    )
    charges.cancel_service(
        db=db, actor=ACTOR, service_id=service.id, end_date=date(2026, 6, 30), clock=FixedClock()
    )
    charges.cancel_service(
        db=db, actor=ACTOR, service_id=service.id, end_date=date(2026, 7, 31), clock=FixedClock()
    )  # no-op
    db.commit()
    stored = db.get(Service, service.id)
    assert stored is not None
    assert (stored.name, stored.status, stored.end_date) == (
        "Managed firewall+",
        "cancelled",
        date(2026, 6, 30),
    )
    rows = audit_rows(db, "service")
    assert [row.action for row in rows] == [
        "create",
        "update",
        "exclude_next_invoice",
        "include_next_invoice",
        "cancel",
    ]
    assert rows[1].changes == {"name": ["Managed firewall", "Managed firewall+"]}
    assert rows[-1].changes == {"status": ["active", "cancelled"], "end_date": [None, "2026-06-30"]}
    assert charges.list_services(db=db, customer_id=customer_id, include_cancelled=False) == []
    assert len(charges.list_services(db=db, customer_id=customer_id)) == 1


def make_invoice(db: Session, customer_id: int, number: str = "INV-00012") -> int:
    invoice = Invoice(
        customer_id=customer_id,
        period="2026-11",
        number=number,
        series="INV-",
        sequence=12,
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 11, 15),
        subtotal=Decimal("10.00"),
        tax=Decimal("1.00"),
        total=Decimal("11.00"),
        tax_rate=Decimal("0.1"),
        tax_rounding="per-invoice-half-up",
        payment_terms_days=14,
        customer_name="Acme Pty Ltd",
        created_by="test",
    )
    db.add(invoice)
    db.commit()
    assert invoice.id is not None
    return invoice.id


def test_once_off_items_can_change_until_invoiced(db: Session) -> None:
    customer_id = make_customer(db)
    data = validate_once_off(
        description="Onsite labour", unit_price="150", quantity="2", item_date="2026-11-20"
    )
    item = charges.add_once_off(db=db, actor=ACTOR, customer_id=customer_id, data=data, clock=FixedClock())
    spare = charges.add_once_off(db=db, actor=ACTOR, customer_id=customer_id, data=data, clock=FixedClock())
    changed = validate_once_off(
        description="Onsite labour", unit_price="150", quantity="3", item_date="2026-11-20"
    )
    charges.edit_once_off(db=db, actor=ACTOR, item_id=item.id, data=changed, clock=FixedClock())
    charges.delete_once_off(db=db, actor=ACTOR, item_id=spare.id)
    db.commit()
    assert db.get(OnceOffItem, spare.id) is None
    actions = [(row.entity_id, row.action) for row in audit_rows(db, "once_off_item")]
    assert actions == [
        (str(item.id), "create"),
        (str(spare.id), "create"),
        (str(item.id), "update"),
        (str(spare.id), "delete"),
    ]
    deleted = audit_rows(db, "once_off_item")[-1]
    assert deleted.changes["description"] == ["Onsite labour", None]

    invoice_id = make_invoice(db, customer_id)
    stored = db.get(OnceOffItem, item.id)
    assert stored is not None
    stored.invoice_id = invoice_id
    db.add(stored)
    db.commit()
    with pytest.raises(NotAllowed) as caught:
        charges.edit_once_off(db=db, actor=ACTOR, item_id=item.id, data=data, clock=FixedClock())
    assert caught.value.user_message == "Already invoiced on INV-00012; it can't be changed."
    with pytest.raises(NotAllowed, match="INV-00012; it can't be deleted"):
        charges.delete_once_off(db=db, actor=ACTOR, item_id=item.id)
    db.rollback()
    assert db.get(OnceOffItem, item.id) is not None
    assert charges.list_once_offs(db=db, customer_id=customer_id, uninvoiced_only=True) == []
    assert len(charges.list_once_offs(db=db, customer_id=customer_id)) == 1


def test_preview_and_monthly_total(db: Session) -> None:
    customer_id = make_customer(db)
    firewall = charges.add_service(
        db=db,
        actor=ACTOR,
        customer_id=customer_id,
        data=validate_service(name="Firewall", start_date="2026-01-01"),
        clock=FixedClock(),
    )
    charges.add_recurring_charge(
        db=db, actor=ACTOR, customer_id=customer_id, data=charge_fields(), clock=FixedClock()
    )
    charges.add_recurring_charge(
        db=db,
        actor=ACTOR,
        customer_id=customer_id,
        data=charge_fields(
            description="Firewall",
            unit_price="120",
            quantity="1",
            frequency="quarterly",
            effective_from="2026-01-01",
            service_id=str(firewall.id),
            taxable=False,
        ),
        clock=FixedClock(),
    )
    charges.add_once_off(
        db=db,
        actor=ACTOR,
        customer_id=customer_id,
        data=validate_once_off(description="Cable", unit_price="9.95", quantity="2", item_date="2026-12-03"),
        clock=FixedClock(),
    )
    db.commit()
    db.expire_all()

    lines, result = charges.preview(db=db, customer_id=customer_id, period=Period(2026, 12))
    # Defaults (no settings row yet): advance, GST 10%. Dec is not a quarterly cycle month (Jan + 3k).
    # M365 15-31 Dec: 67.50 x 17/31 = 37.02; cable 9.95 x 2 = 19.90. Subtotal 56.92, GST 5.692 → 5.69.
    assert [(line.kind, line.amount) for line in lines] == [
        ("recurring", Decimal("37.02")),
        ("once_off", Decimal("19.90")),
    ]
    assert (result.subtotal, result.tax, result.total) == (
        Decimal("56.92"),
        Decimal("5.69"),
        Decimal("62.61"),
    )
    assert db.get(BillingSettings, 1) is None  # a preview writes nothing

    lines, result = charges.preview(
        db=db, customer_id=customer_id, period=Period(2027, 1), mode="advance", tax_rate=Decimal("0.1")
    )
    # Jan 2027: M365 67.50 + firewall quarter 120.00 (not taxable) + cable 19.90. GST on 87.40 = 8.74.
    assert [line.amount for line in lines] == [Decimal("67.50"), Decimal("120.00"), Decimal("19.90")]
    assert (result.subtotal, result.tax, result.total) == (
        Decimal("207.40"),
        Decimal("8.74"),
        Decimal("216.14"),
    )

    db.add(BillingSettings(id=1, billing_mode="arrears", tax_rate=Decimal("0.15")))
    db.commit()
    lines, result = charges.preview(db=db, customer_id=customer_id, period=Period(2027, 1))
    # Arrears: Jan invoice covers Dec, as the first preview; GST 15% of 56.92 = 8.538 → 8.54.
    assert [line.amount for line in lines] == [Decimal("37.02"), Decimal("19.90")]
    assert result.tax == Decimal("8.54")

    # Run rate on 1 Jan 2027: 67.50 + 120/3 = 107.50.
    assert charges.monthly_total(db=db, customer_id=customer_id, as_of=date(2027, 1, 1)) == Decimal("107.50")
    charges.set_exclude_next_invoice(
        db=db, actor=ACTOR, service_id=firewall.id, exclude=True, clock=FixedClock()
    )
    lines, _ = charges.preview(db=db, customer_id=customer_id, period=Period(2027, 1), mode="advance")
    assert [line.kind for line in lines] == ["recurring", "once_off"]
