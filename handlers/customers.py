"""Listeners for end customers: list, open, create, edit, payment terms, e-mail, archive."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt import App

from core import billing_settings, customers, psa_service
from core.customer_validation import parse_days, parse_email, validate_customer
from core.errors import ErrorCollector, FieldErrors
from handlers import customer_page
from handlers import customer_views as views
from handlers.base import Call, listener
from handlers.customer_views import Ids
from handlers.fields import metadata
from handlers.home import publish_home
from handlers.setup import open_settings
from handlers.setup_prompt import ensure_configured
from handlers.subcommands import subcommand
from models.customers import EndCustomer


def _default_days(call: Call) -> int:
    return billing_settings.default_terms(call.db)


def customer_modal(call: Call, customer: EndCustomer) -> dict[str, Any]:
    return customer_page.render(call, customer)


def _parse_list_args(args: str) -> tuple[str, bool]:
    words = args.split()
    include_archived = any(w in ("--all", "all") for w in words[:1] + words[-1:])
    text = " ".join(w for w in words if w != "--all")
    return text, include_archived


@subcommand(
    "customers",
    usage="customers [name] [--all]",
    summary="list end customers, filtered by name",
    reads_only=True,
)
def list_command(call: Call, args: str) -> None:
    if not ensure_configured(call):
        return
    text, include_archived = _parse_list_args(args)
    page = customers.list_page(call.db, text=text, include_archived=include_archived)
    call.ack(
        response_type="ephemeral",
        text=f"{page.total} end customers",
        blocks=views.list_blocks(
            page, text=text, default_days=_default_days(call), include_archived=include_archived
        ),
    )


def page_action(call: Call) -> None:
    call.ack()
    state = json.loads(call.body["actions"][0]["value"])
    text, include_archived = str(state.get("t", "")), bool(state.get("a"))
    page = customers.list_page(
        call.db, text=text, include_archived=include_archived, offset=int(state.get("o", 0))
    )
    call.respond(
        replace_original=True,
        text=f"{page.total} end customers",
        blocks=views.list_blocks(
            page, text=text, default_days=_default_days(call), include_archived=include_archived
        ),
    )


@subcommand("customer", usage="customer <name or id>", summary="open an end customer", reads_only=True)
def open_command(call: Call, args: str) -> None:
    if not ensure_configured(call):
        return
    if not args:
        call.ack(
            response_type="ephemeral",
            text="Which customer? Try `/rebill customer Acme` or `/rebill customers`.",
        )
        return
    customer = customers.find(call.db, args)
    call.ack()
    call.client.views_open(trigger_id=call.body["trigger_id"], view=customer_modal(call, customer))


def _action_customer(call: Call) -> EndCustomer:
    return customers.get(call.db, int(call.body["actions"][0]["value"]))


def open_action(call: Call) -> None:
    call.ack()
    call.client.views_open(
        trigger_id=call.body["trigger_id"], view=customer_modal(call, _action_customer(call))
    )


def _psa_name(call: Call) -> str | None:
    return psa_service.vendor_name(call.deps.psa_kind)


@subcommand("new", usage="new", summary="create an end customer (manually or from your PSA)")
def new_command(call: Call, args: str) -> None:
    if not ensure_configured(call):
        return
    call.ack()
    call.client.views_open(
        trigger_id=call.body["trigger_id"], view=views.choose_modal(psa_name=_psa_name(call), origin={})
    )


def new_action(call: Call) -> None:
    call.ack()
    if not billing_settings.is_configured(call.db):
        return open_settings(call, {"response_url": call.body.get("response_url")})
    call.client.views_open(
        trigger_id=call.body["trigger_id"], view=views.choose_modal(psa_name=_psa_name(call), origin={})
    )


def choose_manual(call: Call) -> None:
    call.ack()
    view = call.body["view"]
    form = views.new_form(
        default_days=_default_days(call), psa_required=_psa_name(call) is not None, origin=metadata(view)
    )
    call.client.views_update(view_id=view["id"], hash=view.get("hash"), view=form)


def create_submitted(call: Call) -> None:
    view = call.body["view"]
    create_key = f"view:{view['id']}"
    # The view id is the same for a double-clicked or re-sent submission: it creates one customer.
    earlier = customers.by_create_key(call.db, create_key)
    if earlier is not None:
        call.ack(response_action="update", view=customer_modal(call, earlier))
        return
    form = views.parse_customer_form(view)
    psa_kind = call.deps.psa_kind
    psa_ref = form.psa_ref if psa_kind else None
    errors = ErrorCollector()
    try:
        data = validate_customer(form.customer_fields())
    except FieldErrors as exc:
        errors.absorb(exc)
    if psa_kind and not psa_ref:
        errors["psa_ref"] = "Choose the PSA account this customer is billed for."
    elif psa_kind and psa_ref:
        try:
            psa_service.check_not_imported(call.db, psa_kind, psa_ref)
        except FieldErrors as exc:
            errors.absorb(exc)
    errors.raise_if_any()
    customer = customers.create(
        call.db,
        data,
        actor=call.user_id,
        clock=call.deps.clock,
        create_key=create_key,
        psa_kind=psa_kind if psa_ref else None,
        psa_ref=psa_ref,
    )
    call.ack(response_action="update", view=customer_modal(call, customer))


def _parent(call: Call) -> str | None:
    view = call.body.get("view") or {}
    return view.get("id") if view.get("type") == "modal" else None


def edit_action(call: Call) -> None:
    call.ack()
    customer = _action_customer(call)
    form = views.edit_form(customer, default_days=_default_days(call), parent_view_id=_parent(call))
    call.client.views_push(trigger_id=call.body["trigger_id"], view=form)


def terms_action(call: Call) -> None:
    call.ack()
    customer = _action_customer(call)
    form = views.terms_form(customer, default_days=_default_days(call), parent_view_id=_parent(call))
    call.client.views_push(trigger_id=call.body["trigger_id"], view=form)


def email_action(call: Call) -> None:
    call.ack()
    customer = _action_customer(call)
    container = call.body.get("view") or {}
    if container.get("type") == "modal":
        call.client.views_push(
            trigger_id=call.body["trigger_id"],
            view=views.email_form(customer, origin={"parent": container["id"]}),
        )
        return
    origin = {"home": 1} if container.get("type") == "home" else {}
    call.client.views_open(trigger_id=call.body["trigger_id"], view=views.email_form(customer, origin=origin))


def _refresh_parent(call: Call, origin: dict[str, Any], customer: EndCustomer) -> None:
    if origin.get("parent"):
        call.client.views_update(view_id=origin["parent"], view=customer_modal(call, customer))
    if origin.get("home"):
        publish_home(call, call.user_id)


def edit_submitted(call: Call) -> None:
    view = call.body["view"]
    origin = metadata(view)
    data = validate_customer(views.parse_customer_form(view).customer_fields())
    customer = customers.update(
        call.db, int(origin["customer_id"]), data, actor=call.user_id, clock=call.deps.clock
    )
    call.ack()
    _refresh_parent(call, origin, customer)


def terms_submitted(call: Call) -> None:
    view = call.body["view"]
    origin = metadata(view)
    errors = ErrorCollector()
    days = parse_days(views.parse_terms_form(view).payment_terms_days, errors, "payment_terms_days")
    errors.raise_if_any()
    customer = customers.set_payment_terms(
        call.db, int(origin["customer_id"]), days, actor=call.user_id, clock=call.deps.clock
    )
    call.ack()
    _refresh_parent(call, origin, customer)


def email_submitted(call: Call) -> None:
    view = call.body["view"]
    origin = metadata(view)
    errors = ErrorCollector()
    email = parse_email(views.parse_email_form(view).email, errors)
    if email is None and not errors:
        errors["email"] = "Enter the address invoices should go to."
    errors.raise_if_any()
    assert email is not None
    customer = customers.set_email(
        call.db, int(origin["customer_id"]), email, actor=call.user_id, clock=call.deps.clock
    )
    call.ack()
    _refresh_parent(call, origin, customer)


def archive_action(call: Call) -> None:
    call.ack()
    action_id = call.body["actions"][0]["action_id"]
    change = customers.archive if action_id == Ids.ARCHIVE else customers.restore
    customer = change(
        call.db, int(call.body["actions"][0]["value"]), actor=call.user_id, clock=call.deps.clock
    )
    view = call.body.get("view") or {}
    if view.get("id"):
        call.client.views_update(view_id=view["id"], view=customer_modal(call, customer))


def register(app: App) -> None:
    app.action(Ids.LIST_OPEN)(listener(open_action))
    app.action(re.compile(f"^{Ids.LIST_PAGE}_(prev|next)$"))(listener(page_action, writes=False))
    app.action(Ids.NEW)(listener(new_action))
    app.action(Ids.NEW_MANUAL)(listener(choose_manual))
    app.view(Ids.FORM_NEW)(listener(create_submitted))
    app.action(Ids.EDIT)(listener(edit_action))
    app.view(Ids.FORM_EDIT)(listener(edit_submitted))
    app.action(Ids.TERMS)(listener(terms_action))
    app.view(Ids.FORM_TERMS)(listener(terms_submitted))
    app.action(Ids.ADD_EMAIL)(listener(email_action))
    app.view(Ids.FORM_EMAIL)(listener(email_submitted))
    app.action(Ids.ARCHIVE)(listener(archive_action))
    app.action(Ids.RESTORE)(listener(archive_action))
