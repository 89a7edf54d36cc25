"""Block Kit for services, recurring charges and once-off items: customer-view sections and forms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from core.calculation import Line, Totals
from core.charge_validation import DESCRIPTION_MAX, FEED_MAX, NAME_MAX, REFERENCE_MAX
from core.money import format_money, margin_percent_of
from handlers import blocks
from handlers.blocks import Block, esc
from handlers.fields import (
    checkbox_input,
    checked,
    date_input,
    encode_metadata,
    modal,
    option,
    select_input,
    submitted,
    text_input,
)
from models.charges import OnceOffItem, RecurringCharge, Service

SHOW_AT_MOST = 12  # per section, so a customer view stays inside a modal's 100 blocks


class Ids(StrEnum):
    MENU = "charge_menu"
    ADD_SERVICE = "service_add"
    ADD_CHARGE = "charge_add"
    ADD_ONCE_OFF = "once_off_add"
    PREVIEW = "invoice_preview"
    FORM_SERVICE = "service_form"
    FORM_CHARGE = "charge_form"
    FORM_ONCE_OFF = "once_off_form"
    FORM_END_CHARGE = "charge_end_form"
    FORM_CANCEL_SERVICE = "service_cancel_form"
    FORM_DELETE_ONCE_OFF = "once_off_delete_form"


def day(value: date | None) -> str:
    return f"{value:%-d %b %Y}" if value else ""


def quantity_text(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


class MenuVerb(StrEnum):
    """What a choice in a row's ⋯ menu does; the option's value is `<verb>:<row id>`."""

    SERVICE_EDIT = "svc_edit"
    SERVICE_EXCLUDE = "svc_exclude"
    SERVICE_INCLUDE = "svc_include"
    SERVICE_CANCEL = "svc_cancel"
    CHARGE_EDIT = "rc_edit"
    CHARGE_END = "rc_end"
    ONCE_OFF_EDIT = "oo_edit"
    ONCE_OFF_DELETE = "oo_delete"

    def on(self, row_id: int | None) -> str:
        return f"{self}:{row_id}"


def parse_menu_choice(value: str) -> tuple[MenuVerb, int] | None:
    """The verb and row of a menu choice, or None for one this version doesn't know (an old message)."""
    verb, _, raw_id = value.partition(":")
    if verb not in set(MenuVerb) or not raw_id.isascii() or not raw_id.isdigit():
        return None
    return MenuVerb(verb), int(raw_id)


def _menu(*choices: tuple[str, str]) -> dict[str, Any]:
    return {"type": "overflow", "action_id": Ids.MENU, "options": [option(t, v) for t, v in choices]}


def _more(count: int) -> list[Block]:
    if count <= SHOW_AT_MOST:
        return []
    return [blocks.context(f"…and {count - SHOW_AT_MOST} more: `rebill-bot charges list` shows them all.")]


def services_section(services: Sequence[Service], *, customer_id: int) -> list[Block]:
    out: list[Block] = [blocks.divider(), blocks.section(f"*Services* ({len(services)})")]
    if not services:
        out.append(blocks.context("_none yet_"))
    for service in services[:SHOW_AT_MOST]:
        ref = f" · {esc(service.reference)}" if service.reference else ""
        if service.status == "cancelled":
            state = f"cancelled, ended {day(service.end_date)}"
            menu = _menu(("Edit", MenuVerb.SERVICE_EDIT.on(service.id)))
        else:
            state = f"since {day(service.start_date)}" + (
                f", ends {day(service.end_date)}" if service.end_date else ""
            )
            toggle = (
                ("Include in next invoice", MenuVerb.SERVICE_INCLUDE.on(service.id))
                if service.exclude_next_invoice
                else ("Exclude from next invoice", MenuVerb.SERVICE_EXCLUDE.on(service.id))
            )
            menu = _menu(
                ("Edit", MenuVerb.SERVICE_EDIT.on(service.id)),
                toggle,
                ("Cancel service", MenuVerb.SERVICE_CANCEL.on(service.id)),
            )
        flag = "  :pause_button: _excluded from the next invoice_" if service.exclude_next_invoice else ""
        out.append(blocks.section(f"*{esc(service.name)}*{ref}\n{state}{flag}", accessory=menu))
    out += _more(len(services))
    out.append(blocks.actions(blocks.button("Add service", Ids.ADD_SERVICE, value=str(customer_id))))
    return out


def charges_section(
    charges: Sequence[RecurringCharge],
    *,
    customer_id: int,
    monthly: Decimal,
    services: dict[int, str],
    currency: str,
) -> list[Block]:
    out: list[Block] = [
        blocks.divider(),
        blocks.section(
            f"*Recurring charges* ({len(charges)}) · {format_money(monthly, currency)} a month ex-GST"
        ),
    ]
    if not charges:
        out.append(blocks.context("_none yet_"))
    for charge in charges[:SHOW_AT_MOST]:
        amount = format_money(charge.unit_price * charge.quantity, currency)
        each = f"{quantity_text(charge.quantity)} × {format_money(charge.unit_price, currency)}"
        dates = f"from {day(charge.effective_from)}" + (
            f" to {day(charge.end_date)}" if charge.end_date else ""
        )
        service = f" · {esc(services[charge.service_id])}" if charge.service_id in services else ""
        tax = "" if charge.taxable else " · GST-free"
        cost = cost_text(charge.unit_price, charge.unit_cost, currency)
        feed = f" · quantity from feed {esc(charge.quantity_feed)}" if charge.quantity_feed else ""
        text = f"*{esc(charge.description)}*: {amount} {charge.frequency}\n{each}{cost} · {dates}{service}{tax}{feed}"
        menu = _menu(
            ("Edit", MenuVerb.CHARGE_EDIT.on(charge.id)), ("End charge", MenuVerb.CHARGE_END.on(charge.id))
        )
        out.append(blocks.section(text, accessory=menu))
    out += _more(len(charges))
    out.append(blocks.actions(blocks.button("Add recurring charge", Ids.ADD_CHARGE, value=str(customer_id))))
    return out


def once_offs_section(
    items: Sequence[OnceOffItem], *, customer_id: int, numbers: dict[int, str], currency: str
) -> list[Block]:
    out: list[Block] = [blocks.divider(), blocks.section(f"*Once-off items* ({len(items)})")]
    if not items:
        out.append(blocks.context("_none yet_"))
    for item in items[:SHOW_AT_MOST]:
        amount = format_money(item.unit_price * item.quantity, currency)
        status = (
            f"Invoiced on {numbers.get(item.invoice_id or 0, 'an invoice')}"
            if item.invoice_id
            else "Not yet invoiced"
        )
        cost = cost_text(item.unit_price, item.unit_cost, currency)
        text = f"*{esc(item.description)}*: {amount}{cost} · {day(item.item_date)}\n_{status}_"
        menu = _menu(
            ("Edit", MenuVerb.ONCE_OFF_EDIT.on(item.id)), ("Delete", MenuVerb.ONCE_OFF_DELETE.on(item.id))
        )
        out.append(blocks.section(text, accessory=menu))
    out += _more(len(items))
    out.append(
        blocks.actions(
            blocks.button("Add once-off item", Ids.ADD_ONCE_OFF, value=str(customer_id)),
            blocks.button("Preview next invoice", Ids.PREVIEW, value=str(customer_id)),
        )
    )
    return out


def _origin(customer_id: int, parent: str | None, **extra: Any) -> str:
    return encode_metadata(customer_id=customer_id, parent=parent, **extra)


def service_form(
    *, customer_id: int, parent: str | None, today: date, service: Service | None = None
) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_SERVICE,
        title="Edit service" if service else "Add service",
        submit="Save",
        blocks=[
            text_input(
                "name",
                "Service name",
                initial=service and service.name,
                optional=False,
                max_length=NAME_MAX,
                placeholder="Microsoft 365 Business Premium",
            ),
            text_input(
                "reference",
                "Reference",
                initial=service and service.reference,
                max_length=REFERENCE_MAX,
                hint="A phone number, tenant id or contract id.",
            ),
            text_input(
                "psa_reference",
                "PSA contract / product reference",
                initial=service and service.psa_reference,
                max_length=REFERENCE_MAX,
            ),
            date_input(
                "start_date", "Start date", initial=service.start_date if service else today, optional=False
            ),
            date_input("end_date", "End date", initial=service and service.end_date),
            text_input(
                "margin_percent",
                "Margin (% on cost, internal)",
                initial=None
                if service is None or service.margin_percent is None
                else f"{service.margin_percent.normalize():f}",
                max_length=7,
                hint="Prices this service's costed charges and usage; blank: the default margin.",
            ),
        ],
        private_metadata=_origin(customer_id, parent, service_id=service and service.id),
    )


def cost_input(cost: Decimal | None) -> Block:
    return text_input(
        "unit_cost",
        "Unit cost (ex-GST, internal)",
        initial=None if cost is None else f"{cost.normalize():f}",
        placeholder="e.g. 21.00",
        hint="What you pay wholesale. Never shown to the customer.",
    )


def cost_text(unit_price: Decimal, unit_cost: Decimal | None, currency: str) -> str:
    """ " · cost $21.00 · margin 54.76%": internal figures for the customer view and the preview."""
    if unit_cost is None:
        return ""
    margin = margin_percent_of(unit_price, unit_cost)
    shown = "n/a" if margin is None else f"{margin}%"
    return f" · cost {format_money(unit_cost, currency)} · margin {shown}"


FREQUENCY_OPTIONS = [("Monthly", "monthly"), ("Quarterly", "quarterly"), ("Annually", "annually")]


def charge_form(
    *,
    customer_id: int,
    parent: str | None,
    today: date,
    services: Sequence[Service],
    charge: RecurringCharge | None = None,
) -> dict[str, Any]:
    form: list[Block] = [
        text_input(
            "description",
            "Description",
            initial=charge and charge.description,
            optional=False,
            max_length=DESCRIPTION_MAX,
        ),
        text_input(
            "unit_price",
            "Unit price (ex-GST)",
            initial=charge and f"{charge.unit_price.normalize():f}",
            placeholder="e.g. 32.50",
            hint="Up to 4 decimal places; GST is added on the invoice. Blank: unit cost plus margin.",
        ),
        cost_input(charge and charge.unit_cost),
        text_input(
            "quantity",
            "Quantity",
            initial=quantity_text(charge.quantity) if charge else "1",
            optional=False,
            hint="Seats, hours or units, e.g. 37 or 2.5.",
        ),
        text_input(
            "quantity_feed",
            "Quantity from licence feed",
            initial=charge and charge.quantity_feed,
            max_length=FEED_MAX,
            hint="A licence feed name: the quantity follows its latest count in the month billed.",
        ),
        select_input(
            "frequency", "Frequency", FREQUENCY_OPTIONS, initial=charge.frequency if charge else "monthly"
        ),
        date_input(
            "effective_from",
            "Effective from",
            initial=charge.effective_from if charge else today,
            optional=False,
            hint="A start inside a month is billed pro-rata.",
        ),
        date_input("end_date", "End date", initial=charge and charge.end_date),
        checkbox_input("taxable", "GST", "Taxable (GST applies)", checked=charge.taxable if charge else True),
    ]
    if charge is not None:
        form.append(
            date_input(
                "change_from",
                "New price or quantity applies from",
                hint="Needed once the charge has been billed: days already billed from then are "
                "credited at the old price and billed at the new one.",
            )
        )
    live = [s for s in services if s.status != "cancelled"]
    if live:
        choices = [("No service", "none")] + [(s.name[:75], str(s.id)) for s in live]
        initial = str(charge.service_id) if charge and charge.service_id else "none"
        form.append(select_input("service_id", "Part of service", choices, initial=initial, optional=True))
    return modal(
        callback_id=Ids.FORM_CHARGE,
        title="Edit recurring charge" if charge else "Add recurring charge",
        submit="Save",
        blocks=form,
        private_metadata=_origin(customer_id, parent, charge_id=charge and charge.id),
    )


def once_off_form(
    *, customer_id: int, parent: str | None, today: date, item: OnceOffItem | None = None
) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_ONCE_OFF,
        title="Edit once-off item" if item else "Add once-off item",
        submit="Save",
        blocks=[
            text_input(
                "description",
                "Description",
                initial=item and item.description,
                optional=False,
                max_length=DESCRIPTION_MAX,
            ),
            text_input(
                "unit_price",
                "Unit price (ex-GST)",
                initial=item and f"{item.unit_price.normalize():f}",
                placeholder="e.g. 450.00",
                hint="Blank: unit cost plus margin.",
            ),
            cost_input(item and item.unit_cost),
            text_input(
                "quantity", "Quantity", initial=quantity_text(item.quantity) if item else "1", optional=False
            ),
            date_input(
                "item_date",
                "Date",
                initial=item.item_date if item else today,
                optional=False,
                hint="Billed on the next invoice.",
            ),
            checkbox_input("taxable", "GST", "Taxable (GST applies)", checked=item.taxable if item else True),
        ],
        private_metadata=_origin(customer_id, parent, item_id=item and item.id),
    )


def end_date_form(
    *, callback_id: str, title: str, what: str, customer_id: int, parent: str | None, today: date, **ids: int
) -> dict[str, Any]:
    return modal(
        callback_id=callback_id,
        title=title,
        submit="Confirm",
        blocks=[
            blocks.section(f"{what} History is kept; nothing is deleted."),
            date_input("end_date", "Last day billed", initial=today, optional=False),
        ],
        private_metadata=_origin(customer_id, parent, **ids),
    )


def delete_form(item: OnceOffItem, *, parent: str | None, currency: str) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_DELETE_ONCE_OFF,
        title="Delete once-off item",
        submit="Delete",
        blocks=[
            blocks.section(
                f"Delete *{esc(item.description)}* ({format_money(item.unit_price * item.quantity, currency)})? "
                "It has not been invoiced, so it simply won't be billed."
            )
        ],
        private_metadata=_origin(item.customer_id, parent, item_id=item.id),
    )


def preview_modal(
    customer_name: str,
    period: str,
    lines: Sequence[Line],
    result: Totals,
    *,
    tax_rate: Decimal,
    currency: str,
    held: Sequence[Line] = (),
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The next invoice (or credit note), with the internal figures (cost, margin), `notes`
    (quantity changes) and the catch-up held for a decision: none of which the customer sees."""
    noun = "credit note" if result.total < 0 else "invoice"
    out: list[Block] = [blocks.section(f"*{esc(customer_name)}*: the {noun} for *{period}* would say:")]
    if not lines:
        out.append(blocks.section("_Nothing to bill: no invoice would be generated._"))
    out += lines_and_totals(
        lines,
        subtotal=result.subtotal,
        tax=result.tax,
        total=result.total,
        tax_rate=tax_rate,
        limit=70,
        currency=currency,
        show_cost=True,
    )
    internal = margin_summary(lines, currency)
    if internal or notes:
        out.append(blocks.context("\n".join([*(esc(n) for n in notes), *([internal] if internal else [])])))
    if held:
        rows = "\n".join(
            f"• {esc(line.description)} {format_money(line.amount, currency)}" for line in held[:10]
        )
        out.append(
            blocks.section(
                f":hourglass: *Needs a decision, not on this invoice:* {len(held)} unbilled piece(s) older "
                f"than the back-billing horizon (the bill run can include them).\n{rows}"
            )
        )
    return modal(callback_id="invoice_preview_view", title="Next invoice", close="Close", blocks=out[:100])


# What a line is, said before its description (recurring and once-off lines need no label).
_KIND_LABELS = {"catch_up": "*Catch-up* · ", "credit": "*Credit* · "}


def margin_summary(lines: Sequence[Line], currency: str) -> str:
    """ "Internal: cost $120.00 · margin $30.00 (25.00%)" over the costed lines, or ""."""
    costed = [line for line in lines if line.cost is not None]
    if not costed:
        return ""
    revenue = sum((line.amount for line in costed), Decimal(0))
    cost = sum((line.cost or Decimal(0) for line in costed), Decimal(0))
    pct = margin_percent_of(revenue, cost)
    uncosted = len(lines) - len(costed)
    rest = f" · {uncosted} line(s) without a cost" if uncosted else ""
    return (
        f":lock: Internal: cost {format_money(cost, currency)} · margin {format_money(revenue - cost, currency)}"
        f" ({'n/a' if pct is None else f'{pct}%'}){rest}"
    )


class Priced(Protocol):
    description: str
    taxable: bool
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


def lines_and_totals(
    lines: Sequence[Priced],
    *,
    subtotal: Decimal,
    tax: Decimal,
    total: Decimal,
    tax_rate: Decimal,
    limit: int,
    currency: str,
    show_code: bool = False,
    more: str = "",
    show_cost: bool = False,
) -> list[Block]:
    """Invoice lines and their totals, the same in a preview and on an invoice.

    `show_cost` adds each line's internal cost and margin (the preview only); `show_code` names the
    currency after the total (an issued invoice says what it is in).
    """
    out: list[Block] = []
    for line in lines[:limit]:
        gst = "" if line.taxable else " _(GST-free)_"
        kind = _KIND_LABELS.get(getattr(line, "kind", ""), "")
        cost = cost_text(line.unit_price, getattr(line, "unit_cost", None), currency) if show_cost else ""
        out.append(
            blocks.section(
                f"{kind}{esc(line.description)}{gst}\n{quantity_text(line.quantity)} × "
                f"{format_money(line.unit_price, currency)} = *{format_money(line.amount, currency)}*{cost}"
            )
        )
    if len(lines) > limit:
        out.append(blocks.context(f"…and {len(lines) - limit} more lines{more}."))
    rate = f"{(tax_rate * 100).normalize():f}%"
    out.append(blocks.divider())
    out.append(
        blocks.section(
            f"Subtotal {format_money(subtotal, currency)}\nGST ({rate}) {format_money(tax, currency)}\n*Total {format_money(total, currency)}{f' {currency}' if show_code else ''}*"
        )
    )
    return out


# -- reading the forms back ------------------------------------------------------------------
# Each form's submitted state as a typed value, next to the builder that names its inputs. The
# values are as typed: core.charge_validation checks them (the CLI goes through it too).


@dataclass(frozen=True)
class ServiceForm:
    name: str | None
    reference: str | None
    psa_reference: str | None
    start_date: str | None
    end_date: str | None
    margin_percent: str | None


def parse_service_form(view: dict[str, Any]) -> ServiceForm:
    values = submitted(view)
    return ServiceForm(
        name=values.get("name"),
        reference=values.get("reference"),
        psa_reference=values.get("psa_reference"),
        start_date=values.get("start_date"),
        end_date=values.get("end_date"),
        margin_percent=values.get("margin_percent"),
    )


@dataclass(frozen=True)
class PricedForm:
    """What the recurring-charge and once-off forms share."""

    description: str | None
    unit_price: str | None
    unit_cost: str | None
    quantity: str | None
    taxable: bool

    def priced_fields(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "unit_price": self.unit_price,
            "unit_cost": self.unit_cost,
            "quantity": self.quantity,
            "taxable": self.taxable,
        }


def _priced(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": values.get("description"),
        "unit_price": values.get("unit_price"),
        "unit_cost": values.get("unit_cost"),
        "quantity": values.get("quantity"),
        "taxable": checked(values, "taxable"),
    }


@dataclass(frozen=True)
class ChargeForm(PricedForm):
    frequency: str | None
    effective_from: str | None
    end_date: str | None
    service_id: str | None  # None: not tied to a service ("none" in the menu)
    quantity_feed: str | None
    change_from: str | None  # editing: the day the new price or quantity applies from


def parse_charge_form(view: dict[str, Any]) -> ChargeForm:
    values = submitted(view)
    service = values.get("service_id")
    return ChargeForm(
        **_priced(values),
        frequency=values.get("frequency"),
        effective_from=values.get("effective_from"),
        end_date=values.get("end_date"),
        service_id=None if service in (None, "none") else service,
        quantity_feed=values.get("quantity_feed"),
        change_from=values.get("change_from"),
    )


@dataclass(frozen=True)
class OnceOffForm(PricedForm):
    item_date: str | None


def parse_once_off_form(view: dict[str, Any]) -> OnceOffForm:
    values = submitted(view)
    return OnceOffForm(**_priced(values), item_date=values.get("item_date"))


@dataclass(frozen=True)
class EndDateForm:
    end_date: str


def parse_end_date_form(view: dict[str, Any]) -> EndDateForm:
    return EndDateForm(submitted(view).get("end_date") or "")
