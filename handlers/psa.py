"""Listeners for PSA import, the company type-ahead, cache refresh and customer resync."""

from __future__ import annotations

from slack_bolt import App

from core import billing_settings, customers, psa_service
from core.errors import FieldErrors, RebillError
from core.psa_cache import last_refresh, search_cache
from core.workpool import interactive_timeout
from handlers import customer_page
from handlers import psa_views as views
from handlers.base import Call, listener
from handlers.customer_views import Ids as CustomerIds
from handlers.fields import metadata
from handlers.psa_views import Ids
from integrations.config import PsaSettings


def _kind(call: Call) -> str:
    kind = call.deps.psa_kind
    if kind is None:
        raise RebillError("No PSA is configured: set REBILL_PSA (autotask, connectwise or halopsa).")
    return kind


def _pick_view(call: Call, error: str | None = None) -> dict:
    kind = _kind(call)
    state = last_refresh(db=call.db, psa_kind=kind)
    return views.pick_modal(
        psa_service.vendor_name(kind) or kind,
        count=psa_service.count_cached(call.db, kind),
        refreshed=state.last_success_at if state else None,
        error=error,
    )


def _interactive(call: Call) -> PsaSettings:
    """The PSA settings for a call a user is waiting on: the timeout capped (core.workpool)."""
    psa = call.deps.psa
    return psa.model_copy(update={"psa_timeout": interactive_timeout(psa.psa_timeout)})


def start_import(call: Call) -> None:
    """ "Import from integration": the picker, after a live load if the cache is still empty."""
    call.ack()
    call.later(_start_import)


def _start_import(call: Call) -> None:
    kind = _kind(call)
    view_id = call.body["view"]["id"]
    vendor = psa_service.vendor_name(kind) or kind
    error = None
    # Checked and filled outside this request's transaction (see psa_service.resync_customer).
    if psa_service.cache_empty(call.deps.engine, kind):
        call.client.views_update(view_id=view_id, view=views.loading_modal(vendor))
        try:
            psa_service.refresh(call.deps.engine, _interactive(call), clock=call.deps.clock)
        except RebillError as exc:
            error = exc.user_message
    call.client.views_update(view_id=view_id, view=_pick_view(call, error))


def refresh_companies(call: Call) -> None:
    call.ack()
    call.later(_refresh_companies)


def _refresh_companies(call: Call) -> None:
    error = None
    try:
        psa_service.refresh(call.deps.engine, _interactive(call), clock=call.deps.clock)
    except RebillError as exc:
        error = exc.user_message
    call.client.views_update(view_id=call.body["view"]["id"], view=_pick_view(call, error))


def company_options(call: Call) -> None:
    """The type-ahead: answered from the cache, so it is fast whatever the PSA's speed."""
    kind = call.deps.psa_kind
    rows = (
        search_cache(db=call.db, psa_kind=kind, text=call.body.get("value") or "", limit=100) if kind else []
    )
    call.ack(options=views.options(rows))


def picked(call: Call) -> None:
    kind = _kind(call)
    ref = views.parse_pick_form(call.body["view"])
    if not ref:
        raise FieldErrors({"psa_ref": "Choose a company."})
    psa_service.check_not_imported(call.db, kind, ref)
    row = psa_service.company(call.db, kind, ref)
    details = views.details_modal(
        row, psa_service.vendor_name(kind) or kind, default_days=billing_settings.default_terms(call.db)
    )
    call.ack(response_action="update", view=details)


def save_import(call: Call) -> None:
    kind = _kind(call)
    view = call.body["view"]
    form = views.parse_details_form(view)
    try:
        customer = psa_service.import_customer(
            call.db,
            kind,
            str(metadata(view)["psa_ref"]),
            email=form.email,
            payment_terms_days=form.payment_terms_days,
            actor=call.user_id,
            clock=call.deps.clock,
            create_key=f"view:{view['id']}",
        )
    except FieldErrors as exc:
        # The synced fields are read-only here; a problem with one of them is shown on the e-mail box
        # (the first input) rather than lost.
        shown = {k: v for k, v in exc.errors.items() if k in ("email", "payment_terms_days")}
        hidden = [v for k, v in exc.errors.items() if k not in shown]
        if hidden:
            shown["email"] = " ".join([*hidden, shown.get("email", "")]).strip()
        raise FieldErrors(shown) from None
    call.ack(response_action="update", view=customer_page.render(call, customer))


def resync(call: Call) -> None:
    call.ack()
    call.later(_resync)


def _resync(call: Call) -> None:
    customer_id = int(call.body["actions"][0]["value"])
    result = psa_service.resync_customer(
        call.deps.engine, _interactive(call), customer_id, actor=call.user_id, clock=call.deps.clock
    )
    view = customer_page.render(call, customers.get(call.db, customer_id))
    header = next((i for i, b in enumerate(view["blocks"]) if b.get("type") == "header"), -1)
    view["blocks"].insert(header + 1, views.resync_note(psa_service.vendor_name(_kind(call)) or "", result))
    call.client.views_update(view_id=call.body["view"]["id"], view=view)


def register(app: App) -> None:
    app.action(CustomerIds.NEW_IMPORT)(listener(start_import))
    app.action(Ids.REFRESH)(listener(refresh_companies))
    app.options(Ids.COMPANY)(listener(company_options))
    app.options(CustomerIds.PSA_LINK)(listener(company_options))
    app.view(Ids.PICK)(listener(picked))
    app.view(Ids.SAVE)(listener(save_import))
    app.action(CustomerIds.RESYNC)(listener(resync))
