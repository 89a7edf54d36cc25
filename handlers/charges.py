"""Listeners for services, recurring charges and once-off items inside the customer view."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from core import billing_settings, charges, customers, licence_feed
from core.billrun import period_to_bill
from core.calculation import Period
from core.charge_validation import validate_once_off, validate_recurring_charge, validate_service
from core.errors import NotAllowed
from handlers import charge_views as views
from handlers import customer_page
from handlers.base import Call, listener
from handlers.charge_views import Ids, MenuVerb
from handlers.fields import metadata, notice_modal


def _parent(call: Call) -> str | None:
    view = call.body.get("view") or {}
    return view.get("id") if view.get("type") == "modal" else None


def _push(call: Call, view: dict[str, Any]) -> None:
    if _parent(call):
        call.client.views_push(trigger_id=call.body["trigger_id"], view=view)
    else:
        call.client.views_open(trigger_id=call.body["trigger_id"], view=view)


def _refresh(call: Call, origin: dict[str, Any]) -> None:
    """Redraw the customer view underneath the form that just closed."""
    if origin.get("parent"):
        customer = customers.get(call.db, int(origin["customer_id"]))
        call.client.views_update(view_id=origin["parent"], view=customer_page.render(call, customer))


def _button_customer(call: Call) -> int:
    return int(call.body["actions"][0]["value"])


def add_service(call: Call) -> None:
    call.ack()
    form = views.service_form(customer_id=_button_customer(call), parent=_parent(call), today=call.today)
    _push(call, form)


def add_charge(call: Call) -> None:
    call.ack()
    customer_id = _button_customer(call)
    services = charges.list_services(db=call.db, customer_id=customer_id, include_cancelled=False)
    _push(
        call,
        views.charge_form(customer_id=customer_id, parent=_parent(call), today=call.today, services=services),
    )


def add_once_off(call: Call) -> None:
    call.ack()
    _push(
        call, views.once_off_form(customer_id=_button_customer(call), parent=_parent(call), today=call.today)
    )


def menu(call: Call) -> None:
    """The ⋯ menu on each row: edit, end, cancel, exclude or delete."""
    call.ack()
    parsed = views.parse_menu_choice(call.body["actions"][0]["selected_option"]["value"])
    if parsed is None:
        return
    choice, row_id = parsed
    parent, today, db = _parent(call), call.today, call.db
    try:
        if choice is MenuVerb.SERVICE_EDIT:
            service = charges.get_service(db=db, service_id=row_id)
            _push(
                call,
                views.service_form(
                    customer_id=service.customer_id, parent=parent, today=today, service=service
                ),
            )
        elif choice in (MenuVerb.SERVICE_EXCLUDE, MenuVerb.SERVICE_INCLUDE):
            service = charges.set_exclude_next_invoice(
                db=db,
                actor=call.user_id,
                service_id=row_id,
                exclude=choice is MenuVerb.SERVICE_EXCLUDE,
                clock=call.deps.clock,
            )
            _refresh(call, {"parent": parent, "customer_id": service.customer_id})
        elif choice is MenuVerb.SERVICE_CANCEL:
            service = charges.get_service(db=db, service_id=row_id)
            form = views.end_date_form(
                callback_id=Ids.FORM_CANCEL_SERVICE,
                title="Cancel service",
                what=f"Cancel *{service.name}*? Its charges stop with it.",
                customer_id=service.customer_id,
                parent=parent,
                today=today,
                service_id=row_id,
            )
            _push(call, form)
        elif choice is MenuVerb.CHARGE_EDIT:
            charge = charges.get_recurring_charge(db=db, charge_id=row_id)
            services = charges.list_services(db=db, customer_id=charge.customer_id, include_cancelled=False)
            _push(
                call,
                views.charge_form(
                    customer_id=charge.customer_id,
                    parent=parent,
                    today=today,
                    services=services,
                    charge=charge,
                ),
            )
        elif choice is MenuVerb.CHARGE_END:
            charge = charges.get_recurring_charge(db=db, charge_id=row_id)
            form = views.end_date_form(
                callback_id=Ids.FORM_END_CHARGE,
                title="End recurring charge",
                what=f"End *{charge.description}*? It is billed up to and including the last day.",
                customer_id=charge.customer_id,
                parent=parent,
                today=today,
                charge_id=row_id,
            )
            _push(call, form)
        elif choice in (MenuVerb.ONCE_OFF_EDIT, MenuVerb.ONCE_OFF_DELETE):
            item = charges.get_once_off(db=db, item_id=row_id)
            charges.ensure_not_invoiced(
                db=db, item=item, verb="changed" if choice is MenuVerb.ONCE_OFF_EDIT else "deleted"
            )
            if choice is MenuVerb.ONCE_OFF_EDIT:
                _push(
                    call,
                    views.once_off_form(customer_id=item.customer_id, parent=parent, today=today, item=item),
                )
            else:
                _push(
                    call, views.delete_form(item, parent=parent, currency=billing_settings.currency(call.db))
                )
    except NotAllowed as refusal:
        # "Afterwards the buttons say why not": explain in a small modal over the customer view.
        _push(call, notice_modal("Not possible", f":no_entry_sign: {refusal.user_message}"))


def service_submitted(call: Call) -> None:
    view = call.body["view"]
    origin, form = metadata(view), views.parse_service_form(view)
    data = validate_service(
        name=form.name,
        reference=form.reference,
        psa_reference=form.psa_reference,
        start_date=form.start_date,
        end_date=form.end_date,
        margin_percent=form.margin_percent,
    )
    if origin.get("service_id"):
        charges.edit_service(
            db=call.db,
            actor=call.user_id,
            service_id=int(origin["service_id"]),
            data=data,
            clock=call.deps.clock,
        )
    else:
        charges.add_service(
            db=call.db,
            actor=call.user_id,
            customer_id=int(origin["customer_id"]),
            data=data,
            clock=call.deps.clock,
            create_key=f"view:{view['id']}",
        )
    call.ack()
    _refresh(call, origin)


def charge_submitted(call: Call) -> None:
    view = call.body["view"]
    origin, form = metadata(view), views.parse_charge_form(view)
    data = validate_recurring_charge(
        **form.priced_fields(),
        frequency=form.frequency,
        effective_from=form.effective_from,
        end_date=form.end_date,
        service_id=form.service_id,
        quantity_feed=form.quantity_feed,
    )
    if origin.get("charge_id"):
        charges.edit_recurring_charge(
            db=call.db,
            actor=call.user_id,
            charge_id=int(origin["charge_id"]),
            data=data,
            clock=call.deps.clock,
            change_from=form.change_from,
        )
    else:
        charges.add_recurring_charge(
            db=call.db,
            actor=call.user_id,
            customer_id=int(origin["customer_id"]),
            data=data,
            clock=call.deps.clock,
            create_key=f"view:{view['id']}",
        )
    call.ack()
    _refresh(call, origin)


def once_off_submitted(call: Call) -> None:
    view = call.body["view"]
    origin, form = metadata(view), views.parse_once_off_form(view)
    data = validate_once_off(**form.priced_fields(), item_date=form.item_date)
    if origin.get("item_id"):
        charges.edit_once_off(
            db=call.db, actor=call.user_id, item_id=int(origin["item_id"]), data=data, clock=call.deps.clock
        )
    else:
        charges.add_once_off(
            db=call.db,
            actor=call.user_id,
            customer_id=int(origin["customer_id"]),
            data=data,
            clock=call.deps.clock,
            create_key=f"view:{view['id']}",
        )
    call.ack()
    _refresh(call, origin)


def end_charge_submitted(call: Call) -> None:
    view = call.body["view"]
    origin = metadata(view)
    charges.end_recurring_charge(
        db=call.db,
        actor=call.user_id,
        charge_id=int(origin["charge_id"]),
        end_date=views.parse_end_date_form(view).end_date,
        clock=call.deps.clock,
    )
    call.ack()
    _refresh(call, origin)


def cancel_service_submitted(call: Call) -> None:
    view = call.body["view"]
    origin = metadata(view)
    charges.cancel_service(
        db=call.db,
        actor=call.user_id,
        service_id=int(origin["service_id"]),
        end_date=views.parse_end_date_form(view).end_date,
        clock=call.deps.clock,
    )
    call.ack()
    _refresh(call, origin)


def delete_submitted(call: Call) -> None:
    view = call.body["view"]
    origin = metadata(view)
    charges.delete_once_off(db=call.db, actor=call.user_id, item_id=int(origin["item_id"]))
    call.ack()
    _refresh(call, origin)


def next_period(call: Call) -> Period:
    """The invoice the next bill run issues (`core.billrun.period_to_bill`)."""
    return period_to_bill(db=call.db, today=call.today)


def preview(call: Call) -> None:
    call.ack()
    customer = customers.get(call.db, _button_customer(call))
    period = next_period(call)
    settings = billing_settings.load(call.db)
    lines, result, bill = charges.preview_bill(db=call.db, customer_id=customer.id or 0, period=period)
    notes = [str(n) for n in licence_feed.changes(db=call.db, customer_id=customer.id or 0, period=period)]
    _push(
        call,
        views.preview_modal(
            customer.company_name,
            str(period),
            lines,
            result,
            tax_rate=settings.tax_rate,
            currency=settings.currency,
            held=bill.held,
            notes=notes,
        ),
    )


def register(app: App) -> None:
    app.action(Ids.ADD_SERVICE)(listener(add_service))
    app.action(Ids.ADD_CHARGE)(listener(add_charge))
    app.action(Ids.ADD_ONCE_OFF)(listener(add_once_off))
    app.action(Ids.MENU)(listener(menu))
    app.action(Ids.PREVIEW)(listener(preview))
    app.view(Ids.FORM_SERVICE)(listener(service_submitted))
    app.view(Ids.FORM_CHARGE)(listener(charge_submitted))
    app.view(Ids.FORM_ONCE_OFF)(listener(once_off_submitted))
    app.view(Ids.FORM_END_CHARGE)(listener(end_charge_submitted))
    app.view(Ids.FORM_CANCEL_SERVICE)(listener(cancel_service_submitted))
    app.view(Ids.FORM_DELETE_ONCE_OFF)(listener(delete_submitted))
