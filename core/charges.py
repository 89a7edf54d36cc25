"""Services, recurring charges and once-off items: the changes people make, and what they add up to.

Plain Python over a session, shared by Slack listeners, the CLI and jobs; nothing here imports Slack.
Every function takes the session and the actor (a Slack user id or "cli:<user>") as keyword-only
arguments, flushes but never commits (the caller's unit of work does), and writes one AuditLog row per
change with `changes={field: [old, new]}`.

Input arrives already checked by `core.charge_validation` (typed, frozen values); this module adds
the checks that need the database (the customer exists and is active, a service belongs to the
customer and is not cancelled, an item is not invoiced yet).

History is kept: "removing" a recurring charge end-dates it and "removing" a service cancels it, so
past invoices can always be explained. Only a once-off item that was never invoiced can be deleted.
Billing arithmetic is not done here: `preview` loads the inputs and hands them to `core.calculation`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from dataclasses import field as dataclass_field
from datetime import date
from decimal import Decimal
from typing import Any, Final, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from core import audit, customers, ledger, licence_feed, usage_billing
from core.calculation import (
    DEFAULT_HORIZON_MONTHS,
    Bill,
    ChargeInput,
    Line,
    OnceOffInput,
    Period,
    ServiceInput,
    Totals,
    bill,
    monthly_run_rate,
    totals,
)
from core.charge_validation import (
    OnceOffFields,
    RecurringChargeFields,
    ServiceFields,
    validate_change_from,
    validate_end_date,
)
from core.clock import Clock
from core.coverage import Covered, Version
from core.errors import FieldErrors, NotAllowed, NotFound
from core.pricing import priced
from models.charges import ChargeVersion, OnceOffItem, RecurringCharge, Service
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine
from models.system import BillingSettings

SERVICE: Final = "service"
RECURRING_CHARGE: Final = "recurring_charge"
ONCE_OFF_ITEM: Final = "once_off_item"

# What the audit trail compares: exactly the fields a person can set, as the validation module defines them.
SERVICE_FIELDS: Final = tuple(f.name for f in fields(ServiceFields))
CHARGE_FIELDS: Final = tuple(f.name for f in fields(RecurringChargeFields))
ONCE_OFF_FIELDS: Final = tuple(f.name for f in fields(OnceOffFields))

RowT = TypeVar("RowT", Service, RecurringCharge, OnceOffItem)


@dataclass(frozen=True)
class BillingInputs:
    """Everything `core.calculation.bill` needs for one customer, loaded in one place."""

    charges: tuple[ChargeInput, ...]
    services: tuple[ServiceInput, ...]
    once_offs: tuple[OnceOffInput, ...]
    coverage: Mapping[int, tuple[Covered, ...]] = dataclass_field(
        default_factory=dict
    )  # the ledger, by charge
    waived: Mapping[int, frozenset[Period]] = dataclass_field(
        default_factory=dict
    )  # excluded periods, by service
    ledger_from: Period | None = None


# Services


def add_service(
    *,
    db: Session,
    actor: str,
    customer_id: int,
    data: ServiceFields,
    clock: Clock,
    create_key: str | None = None,
) -> Service:
    _active_customer(db, customer_id)
    row = Service(customer_id=customer_id, **asdict(data), **_stamps(actor, clock), create_key=create_key)
    return _created(db, row, actor=actor, entity=SERVICE, names=SERVICE_FIELDS)


def edit_service(*, db: Session, actor: str, service_id: int, data: ServiceFields, clock: Clock) -> Service:
    service = get_service(db=db, service_id=service_id)
    return _apply(db, service, asdict(data), actor=actor, entity=SERVICE, action="update", clock=clock)


def cancel_service(
    *, db: Session, actor: str, service_id: int, end_date: date | str, clock: Clock
) -> Service:
    """Cancel a service (recording `end_date`); its charges stop billing with it at once.

    core.calculation leaves a cancelled service out of every invoice from now on, including days
    before `end_date` not invoiced yet. To bill up to a future end (a notice period), set the
    service's end date with `edit_service` instead and cancel it afterwards.
    Cancelling twice is a no-op, so a double-clicked button does not write two audit rows.
    """
    service = get_service(db=db, service_id=service_id)
    if service.status == "cancelled":
        return service
    end = validate_end_date(end_date, not_before=service.start_date)
    values = {"status": "cancelled", "end_date": end}
    return _apply(db, service, values, actor=actor, entity=SERVICE, action="cancel", clock=clock)


def set_exclude_next_invoice(
    *, db: Session, actor: str, service_id: int, exclude: bool, clock: Clock
) -> Service:
    """Leave a service (and its charges) off the next invoice, or put it back.

    The bill run is expected to clear the flag once the invoice it applied to has been generated.
    """
    service = get_service(db=db, service_id=service_id)
    action = "exclude_next_invoice" if exclude else "include_next_invoice"
    values = {"exclude_next_invoice": exclude}
    return _apply(db, service, values, actor=actor, entity=SERVICE, action=action, clock=clock)


def get_service(*, db: Session, service_id: int) -> Service:
    return _get(db, Service, service_id, "There is no service with id {id}.")


def list_services(*, db: Session, customer_id: int, include_cancelled: bool = True) -> list[Service]:
    customers.get(db, customer_id)
    query = select(Service).where(Service.customer_id == customer_id)
    if not include_cancelled:
        query = query.where(Service.status != "cancelled")
    return list(db.exec(query.order_by(col(Service.id))).all())


# Recurring charges


def add_recurring_charge(
    *,
    db: Session,
    actor: str,
    customer_id: int,
    data: RecurringChargeFields,
    clock: Clock,
    create_key: str | None = None,
) -> RecurringCharge:
    _active_customer(db, customer_id)
    _check_service_link(db, customer_id, data.service_id)
    data = priced(db, data, service_id=data.service_id)
    row = RecurringCharge(
        customer_id=customer_id, **asdict(data), **_stamps(actor, clock), create_key=create_key
    )
    return _created(db, row, actor=actor, entity=RECURRING_CHARGE, names=CHARGE_FIELDS)


def edit_recurring_charge(
    *,
    db: Session,
    actor: str,
    charge_id: int,
    data: RecurringChargeFields,
    clock: Clock,
    change_from: date | str | None = None,
) -> RecurringCharge:
    """Replace a charge's fields; a new price or quantity of a billed charge takes an effective date.

    A charge never billed just changes. Once billed, its price and quantity are versioned
    (`ChargeVersion`): the change closes the current version the day before `change_from` and opens
    the next; the bill run then credits days already billed from that date at the old version and
    bills them at the new one. Refuses (FieldErrors on `change_from`) without a date, or with one
    before the current version's start.
    """
    charge = get_recurring_charge(db=db, charge_id=charge_id)
    if data.service_id != charge.service_id:
        _check_service_link(db, charge.customer_id, data.service_id)
    data = priced(db, data, service_id=data.service_id)
    values = asdict(data)
    repriced = (data.unit_price, data.quantity) != (charge.unit_price, charge.quantity)
    if repriced and (_is_billed(db, charge_id) or _versions(db, charge_id)):
        start = validate_change_from(change_from, not_before=data.effective_from)
        _add_version(db, charge, start, data.unit_price, data.quantity, actor=actor, clock=clock)
    return _apply(db, charge, values, actor=actor, entity=RECURRING_CHARGE, action="update", clock=clock)


def _is_billed(db: Session, charge_id: int) -> bool:
    """Whether any document, live or void, ever billed the charge (then its history matters)."""
    found = db.exec(select(InvoiceLine.id).where(InvoiceLine.charge_id == charge_id).limit(1)).first()
    return found is not None


def _versions(db: Session, charge_id: int) -> list[ChargeVersion]:
    query = (
        select(ChargeVersion).where(ChargeVersion.charge_id == charge_id).order_by(col(ChargeVersion.version))
    )
    return list(db.exec(query).all())


def _add_version(
    db: Session,
    charge: RecurringCharge,
    start: date,
    unit_price: Decimal,
    quantity: Decimal,
    *,
    actor: str,
    clock: Clock,
) -> None:
    assert charge.id is not None
    versions = _versions(db, charge.id)
    now = clock.now()
    if not versions:  # the price so far becomes version 1, from the charge's start
        versions = [
            ChargeVersion(
                charge_id=charge.id,
                version=1,
                effective_from=charge.effective_from,
                unit_price=charge.unit_price,
                quantity=charge.quantity,
                created_at=now,
                created_by=actor,
            )
        ]
        db.add(versions[0])
    last = versions[-1]
    if start < last.effective_from:
        raise FieldErrors(
            {
                "change_from": f"Pick {last.effective_from.isoformat()} or later: the current price applies from then."
            }
        )
    if start == last.effective_from:  # the same day again: that version's price is corrected
        last.unit_price, last.quantity = unit_price, quantity
        db.add(last)
    else:
        db.add(
            ChargeVersion(
                charge_id=charge.id,
                version=last.version + 1,
                effective_from=start,
                unit_price=unit_price,
                quantity=quantity,
                created_at=now,
                created_by=actor,
            )
        )
    audit.record(
        db,
        actor=actor,
        entity=RECURRING_CHARGE,
        entity_id=charge.id,
        action="new_version",
        changes={"from": start.isoformat(), "unit_price": str(unit_price), "quantity": str(quantity)},
    )
    db.flush()


def end_recurring_charge(
    *, db: Session, actor: str, charge_id: int, end_date: date | str, clock: Clock
) -> RecurringCharge:
    """ "Remove" a recurring charge: it is billed up to and including `end_date`, then stops."""
    charge = get_recurring_charge(db=db, charge_id=charge_id)
    end = validate_end_date(end_date, not_before=charge.effective_from)
    return _apply(
        db, charge, {"end_date": end}, actor=actor, entity=RECURRING_CHARGE, action="end_date", clock=clock
    )


def get_recurring_charge(*, db: Session, charge_id: int) -> RecurringCharge:
    return _get(db, RecurringCharge, charge_id, "There is no recurring charge with id {id}.")


def list_recurring_charges(
    *, db: Session, customer_id: int, as_of: date | None = None
) -> list[RecurringCharge]:
    """A customer's recurring charges by id; with `as_of`, only those not ended before that day."""
    customers.get(db, customer_id)
    query = select(RecurringCharge).where(RecurringCharge.customer_id == customer_id)
    if as_of is not None:
        end = col(RecurringCharge.end_date)
        query = query.where(end.is_(None) | (end >= as_of))
    return list(db.exec(query.order_by(col(RecurringCharge.id))).all())


# Once-off items


def add_once_off(
    *,
    db: Session,
    actor: str,
    customer_id: int,
    data: OnceOffFields,
    clock: Clock,
    create_key: str | None = None,
) -> OnceOffItem:
    _active_customer(db, customer_id)
    data = priced(db, data)
    row = OnceOffItem(customer_id=customer_id, **asdict(data), **_stamps(actor, clock), create_key=create_key)
    return _created(db, row, actor=actor, entity=ONCE_OFF_ITEM, names=ONCE_OFF_FIELDS)


def edit_once_off(*, db: Session, actor: str, item_id: int, data: OnceOffFields, clock: Clock) -> OnceOffItem:
    """Change an item that has not been invoiced yet (an invoiced one is part of a bill)."""
    item = _uninvoiced_item(db, item_id, verb="changed")
    return _apply(
        db, item, asdict(priced(db, data)), actor=actor, entity=ONCE_OFF_ITEM, action="update", clock=clock
    )


def delete_once_off(*, db: Session, actor: str, item_id: int) -> None:
    """Delete an item that has not been invoiced yet; the audit row keeps what it was."""
    item = _uninvoiced_item(db, item_id, verb="deleted")
    changes = audit.changes_between(_values(item, ONCE_OFF_FIELDS), {}, ONCE_OFF_FIELDS)
    audit.record(db, actor=actor, entity=ONCE_OFF_ITEM, entity_id=item.id, action="delete", changes=changes)
    db.delete(item)
    db.flush()


def get_once_off(*, db: Session, item_id: int) -> OnceOffItem:
    return _get(db, OnceOffItem, item_id, "There is no once-off item with id {id}.")


def list_once_offs(*, db: Session, customer_id: int, uninvoiced_only: bool = False) -> list[OnceOffItem]:
    """A customer's once-off items by date, then id."""
    customers.get(db, customer_id)
    query = select(OnceOffItem).where(OnceOffItem.customer_id == customer_id)
    if uninvoiced_only:
        query = query.where(col(OnceOffItem.invoice_id).is_(None))
    return list(db.exec(query.order_by(col(OnceOffItem.item_date), col(OnceOffItem.id))).all())


# What it adds up to


def billing_inputs(*, db: Session, customer_id: int, ignore_invoices: Sequence[int] = ()) -> BillingInputs:
    """The customer's charges, services, uninvoiced once-off items and ledger as calculation inputs.

    The bill run reads the same rows the same way in batches (`invoice_writing.load_inputs`; a test
    checks they agree), so the preview and the invoice cannot differ.
    """
    customers.get(db, customer_id)
    charge_rows = db.exec(
        select(RecurringCharge)
        .where(RecurringCharge.customer_id == customer_id)
        .order_by(col(RecurringCharge.id))
    ).all()
    service_rows = list_services(db=db, customer_id=customer_id)
    item_rows = list_once_offs(db=db, customer_id=customer_id, uninvoiced_only=True)
    versions = ledger.versions_of(db, [row.id for row in charge_rows if row.id is not None])
    return BillingInputs(
        charges=tuple(charge_input(row, versions.get(row.id or 0, ())) for row in charge_rows),
        services=tuple(service_input(row) for row in service_rows),
        once_offs=tuple(once_off_input(row) for row in item_rows),
        coverage=ledger.coverage_of(db, [customer_id], ignore_invoices=ignore_invoices)[customer_id],
        waived=ledger.waived_of(db, [customer_id])[customer_id],
        ledger_from=ledger.first_period(db),
    )


def charge_input(row: RecurringCharge, versions: tuple[Version, ...] = ()) -> ChargeInput:
    assert row.id is not None
    return ChargeInput(
        id=row.id,
        description=row.description,
        unit_price=row.unit_price,
        quantity=row.quantity,
        frequency=row.frequency,
        effective_from=row.effective_from,
        end_date=row.end_date,
        taxable=row.taxable,
        service_id=row.service_id,
        versions=versions,
        unit_cost=row.unit_cost,
        quantity_feed=row.quantity_feed,
    )


def service_input(row: Service) -> ServiceInput:
    assert row.id is not None
    return ServiceInput(
        id=row.id,
        status=row.status,
        start_date=row.start_date,
        end_date=row.end_date,
        exclude_next_invoice=row.exclude_next_invoice,
    )


def once_off_input(row: OnceOffItem) -> OnceOffInput:
    assert row.id is not None
    return OnceOffInput(
        id=row.id,
        description=row.description,
        unit_price=row.unit_price,
        quantity=row.quantity,
        item_date=row.item_date,
        taxable=row.taxable,
        unit_cost=row.unit_cost,
    )


def monthly_total(*, db: Session, customer_id: int, as_of: date) -> Decimal:
    """The customer's recurring charges per month as of a day (see calculation.monthly_run_rate)."""
    inputs = billing_inputs(db=db, customer_id=customer_id)
    return monthly_run_rate(inputs.charges, inputs.services, as_of=as_of)


def preview(
    *,
    db: Session,
    customer_id: int,
    period: Period,
    mode: str | None = None,
    tax_rate: Decimal | None = None,
) -> tuple[list[Line], Totals]:
    """What the invoice for `period` would say if it were generated now. Reads only.

    The same rows the bill run reads: charges (quantities from their licence feeds), once-off items
    and the usage the invoice would bill (in arrears, `core.usage_billing`).

    `mode` and `tax_rate` default to the billing settings (or their defaults if none are saved yet).
    """
    lines, result, _ = preview_bill(
        db=db, customer_id=customer_id, period=period, mode=mode, tax_rate=tax_rate
    )
    return lines, result


def preview_bill(
    *,
    db: Session,
    customer_id: int,
    period: Period,
    mode: str | None = None,
    tax_rate: Decimal | None = None,
) -> tuple[list[Line], Totals, Bill]:
    """`preview`, plus the whole `Bill` (its held catch-up waiting for a decision)."""
    settings = db.get(BillingSettings, 1) or BillingSettings()
    mode = settings.billing_mode if mode is None else mode
    tax_rate = settings.tax_rate if tax_rate is None else tax_rate
    inputs = billing_inputs(db=db, customer_id=customer_id)
    inputs = replace(inputs, charges=licence_feed.fed_charges(db, inputs.charges, period=period, mode=mode))
    result = bill_from(inputs, period=period, mode=mode, horizon_months=settings.back_billing_months)
    lines = list(result.lines)
    usage = usage_billing.usage_for(db, [customer_id], period=period)
    lines += usage[customer_id].lines if customer_id in usage else ()
    return lines, totals(lines, tax_rate), result


def bill_from(
    inputs: BillingInputs,
    *,
    period: Period,
    mode: str,
    horizon_months: int | None = None,
    include_old: bool = False,
) -> Bill:
    """`core.calculation.bill` over one customer's loaded inputs (the one way inputs become lines)."""
    return bill(
        period=period,
        mode=mode,
        charges=inputs.charges,
        services=inputs.services,
        once_offs=inputs.once_offs,
        coverage=inputs.coverage,
        ledger_from=inputs.ledger_from,
        horizon_months=DEFAULT_HORIZON_MONTHS if horizon_months is None else horizon_months,
        include_old=include_old,
        waived=inputs.waived,
    )


# Helpers


def _stamps(actor: str, clock: Clock) -> dict[str, Any]:
    now = clock.now()
    return {"created_at": now, "created_by": actor, "updated_at": now, "updated_by": actor}


def _get(db: Session, model: type[RowT], row_id: int, message: str) -> RowT:
    row = db.get(model, row_id)
    if row is None:
        raise NotFound(message.format(id=row_id))
    return row


def _active_customer(db: Session, customer_id: int) -> EndCustomer:
    customer = customers.get(db, customer_id)
    if customer.archived_at is not None:
        raise NotAllowed(f"{customer.company_name} is archived; restore it before adding to its bill.")
    return customer


def _check_service_link(db: Session, customer_id: int, service_id: int | None) -> None:
    """A charge may only hang off a live service of the same customer."""
    if service_id is None:
        return
    service = db.get(Service, service_id)
    if service is None or service.customer_id != customer_id:
        raise FieldErrors({"service_id": "Choose one of this customer's services."})
    if service.status == "cancelled":
        raise FieldErrors({"service_id": f"{service.name} is cancelled; choose another service."})


def ensure_not_invoiced(*, db: Session, item: OnceOffItem, verb: str) -> None:
    """Raise NotAllowed, naming the invoice, if the item is already on one."""
    if item.invoice_id is not None:
        invoice = db.get(Invoice, item.invoice_id)
        number = invoice.number if invoice is not None else f"invoice {item.invoice_id}"
        raise NotAllowed(f"Already invoiced on {number}; it can't be {verb}.")


def _uninvoiced_item(db: Session, item_id: int, *, verb: str) -> OnceOffItem:
    """The item, locked against a concurrent bill run, provided no invoice has claimed it yet."""
    item = db.exec(
        select(OnceOffItem)
        .where(OnceOffItem.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if item is None:
        raise NotFound(f"There is no once-off item with id {item_id}.")
    ensure_not_invoiced(db=db, item=item, verb=verb)
    return item


def _values(row: SQLModel, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _created(db: Session, row: RowT, *, actor: str, entity: str, names: Sequence[str]) -> RowT:
    """Insert once: a repeated submission (same `create_key`) returns the row the first one made."""
    key = getattr(row, "create_key", None)
    model = type(row)
    if key:
        earlier = db.exec(select(model).where(model.create_key == key)).first()  # type: ignore[attr-defined]
        if earlier is not None:
            return earlier
    try:
        with db.begin_nested():
            db.add(row)
            db.flush()
    except IntegrityError:
        earlier = db.exec(select(model).where(model.create_key == key)).first() if key else None  # type: ignore[attr-defined]
        if earlier is None:
            raise
        return earlier
    changes = audit.changes_between({}, _values(row, names), names)
    audit.record(db, actor=actor, entity=entity, entity_id=row.id, action="create", changes=changes)
    db.flush()
    return row


def _apply(
    db: Session,
    row: RowT,
    values: Mapping[str, Any],
    *,
    actor: str,
    entity: str,
    action: str,
    clock: Clock,
) -> RowT:
    """Set `values` on `row`; if anything really changed, stamp it and write one audit row."""
    before = _values(row, values)
    changes = audit.changes_between(before, values, values)
    if not changes:
        return row
    for field, value in values.items():
        setattr(row, field, value)
    row.updated_at = clock.now()
    row.updated_by = actor
    db.add(row)
    audit.record(db, actor=actor, entity=entity, entity_id=row.id, action=action, changes=changes)
    db.flush()
    return row
