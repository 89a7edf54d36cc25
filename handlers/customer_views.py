"""Block Kit for end customers: the list message, the customer modal and its forms. Pure builders."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from core import payment_terms
from core.customer_validation import EMAIL_MAX, LABELS, MAX_LENGTHS
from core.customers import Page
from handlers import blocks
from handlers.blocks import Block, esc, md
from handlers.fields import encode_metadata, modal, submitted, text_input
from handlers.psa_views import company_select
from models.customers import EndCustomer

NO_EMAIL = "⚠ no e-mail: invoices can't be sent"


class Ids(StrEnum):
    LIST_OPEN = "customer_open"
    LIST_PAGE = "customers_page"
    NEW = "customer_new"
    NEW_MANUAL = "customer_new_manual"
    NEW_IMPORT = "customer_new_import"
    VIEW = "customer_view"
    CHOOSE = "customer_choose"
    FORM_NEW = "customer_form_new"
    FORM_EDIT = "customer_form_edit"
    EDIT = "customer_edit"
    TERMS = "customer_terms"
    FORM_TERMS = "customer_form_terms"
    ADD_EMAIL = "customer_add_email"
    FORM_EMAIL = "customer_form_email"
    ARCHIVE = "customer_archive"
    RESTORE = "customer_restore"
    PSA_LINK = "psa_link"
    RESYNC = "psa_resync"


def terms_text(customer: EndCustomer, default_days: int) -> str:
    return payment_terms.describe(customer.payment_terms_days, default_days)


def psa_text(customer: EndCustomer) -> str | None:
    if not customer.psa_ref:
        return None
    flag = " (inactive in the PSA)" if customer.psa_inactive else ""
    return f"{esc(customer.psa_kind or 'PSA')} #{esc(customer.psa_ref)}{flag}"


def address_text(customer: EndCustomer) -> str:
    parts = [customer.address_line1, customer.address_line2, customer.city, customer.state, customer.postcode]
    line = ", ".join(p for p in parts if p)
    if customer.country:
        line = f"{line}, {customer.country}" if line else customer.country
    return line


def _row(customer: EndCustomer, default_days: int) -> Block:
    email = esc(customer.email) if customer.email else f"*{NO_EMAIL}*"
    details = [email]
    if customer.contact_number:
        details.append(f":telephone_receiver: {esc(customer.contact_number)}")
    psa = psa_text(customer)
    if psa:
        details.append(f":link: {psa}")
    details.append(f"terms: {terms_text(customer, default_days)}")
    archived = " _(archived)_" if customer.archived_at else ""
    text = f"*{esc(customer.company_name)}*{archived}\n" + "  ·  ".join(details)
    return blocks.section(
        text,
        accessory=blocks.button("Open", Ids.LIST_OPEN, value=str(customer.id)),
        block_id=f"c{customer.id}",
    )


def list_blocks(page: Page, *, text: str, default_days: int, include_archived: bool = False) -> list[Block]:
    """At most 20 rows + 4 blocks, well inside a message's 50."""
    if page.total == 0 and not text:
        return [
            blocks.section(
                "*No end customers yet.*\nCreate your first one with `/rebill new` or the button below."
            ),
            blocks.actions(blocks.button("New customer", Ids.NEW, style="primary")),
        ]
    title = f"End customers matching “{esc(text)}”" if text else "End customers"
    out: list[Block] = [blocks.section(f"*{title}*")]
    if page.total == 0:
        out.append(blocks.section(f"No active customer name contains “{esc(text)}”."))
    out.extend(_row(c, default_days) for c in page.customers)
    first, last = page.offset + 1, page.offset + len(page.customers)
    if page.total:
        out.append(blocks.context(f"Showing {first}–{last} of {page.total}"))
    state = {"t": text, "a": int(include_archived)}
    nav: list[dict[str, Any]] = []
    if page.has_previous:
        nav.append(
            blocks.button(
                "Previous",
                f"{Ids.LIST_PAGE}_prev",
                value=encode_metadata(o=max(page.offset - page.limit, 0), **state),
            )
        )
    if page.has_next:
        nav.append(
            blocks.button(
                "Next", f"{Ids.LIST_PAGE}_next", value=encode_metadata(o=page.offset + page.limit, **state)
            )
        )
    nav.append(blocks.button("New customer", Ids.NEW, style="primary"))
    out.append(blocks.actions(*nav, block_id="customer_list_nav"))
    return out


def customer_modal(
    customer: EndCustomer, *, default_days: int, sections: list[list[Block]] | None = None
) -> dict[str, Any]:
    """The customer's page. `sections` are pre-built by the billing features (services, charges,
    once-off items, invoices), so this module needs to know nothing about them."""
    out: list[Block] = []
    if not customer.email:
        out.append(
            blocks.section(
                ":rotating_light: *No e-mail address: invoices can't be sent to this customer.*",
                accessory=blocks.button("Add e-mail", Ids.ADD_EMAIL, value=str(customer.id), style="danger"),
                block_id="missing_email",
            )
        )
    out.append(blocks.header(customer.company_name))
    if customer.archived_at:
        out.append(blocks.context(f":file_cabinet: Archived {customer.archived_at:%d %b %Y}: not billed."))
    details = [
        f"*E-mail:* {esc(customer.email) if customer.email else '_none_'}",
        f"*Contact number:* {esc(customer.contact_number) if customer.contact_number else '_none_'}",
        f"*Address:* {esc(address_text(customer)) or '_none_'}",
        f"*Payment terms:* {terms_text(customer, default_days)}",
        f"*PSA link:* {psa_text(customer) or '_not linked_'}"
        + (f" · last synced {customer.psa_synced_at:%d %b %Y %H:%M} UTC" if customer.psa_synced_at else ""),
    ]
    out.append(blocks.section("\n".join(details), block_id="details"))
    out.append(
        blocks.context(
            md("Created by {} on {}", blocks.mention(customer.created_by), f"{customer.created_at:%d %b %Y}")
        )
    )
    value = str(customer.id)
    archive = (
        blocks.button("Restore", Ids.RESTORE, value=value)
        if customer.archived_at
        else blocks.button("Archive", Ids.ARCHIVE, value=value)
    )
    buttons = [
        blocks.button("Edit details", Ids.EDIT, value=value),
        blocks.button("Set payment terms", Ids.TERMS, value=value),
        archive,
    ]
    if customer.psa_ref:
        buttons.append(blocks.button("Resync", Ids.RESYNC, value=value))
    out.append(blocks.actions(*buttons, block_id="customer_actions"))
    for section in sections if sections is not None else default_sections():
        out.extend(section)
    return modal(
        callback_id=Ids.VIEW,
        title="End customer",
        close="Close",
        blocks=out,
        private_metadata=encode_metadata(customer_id=customer.id),
    )


def empty_section(title: str) -> list[Block]:
    return [blocks.divider(), blocks.section(f"*{title}*\n_none yet_")]


def default_sections() -> list[list[Block]]:
    return [empty_section(t) for t in ("Services", "Recurring charges", "Once-off items", "Invoices")]


def choose_modal(*, psa_name: str | None, origin: dict[str, Any]) -> dict[str, Any]:
    """First step, as the portal does it: how should this end customer be created?"""
    options = [blocks.button("Create manually", Ids.NEW_MANUAL, style="primary")]
    out: list[Block] = [blocks.section("How do you want to create the end customer?")]
    if psa_name:
        options.append(blocks.button(f"Import from {psa_name}", Ids.NEW_IMPORT))
        out.append(blocks.actions(*options, block_id="choose"))
    else:
        out.append(blocks.actions(*options, block_id="choose"))
        out.append(
            blocks.context(
                ":no_entry_sign: *Import from integration* is unavailable: no PSA is configured "
                "(set REBILL_PSA to autotask, connectwise or halopsa)."
            )
        )
    return modal(
        callback_id=Ids.CHOOSE,
        title="New end customer",
        blocks=out,
        private_metadata=encode_metadata(**origin),
    )


def customer_form_blocks(
    customer: EndCustomer | None, *, default_days: int, psa_required: bool
) -> list[Block]:
    value = (lambda f: getattr(customer, f)) if customer else (lambda f: None)
    out: list[Block] = [
        text_input(
            "company_name",
            LABELS["company_name"],
            initial=value("company_name"),
            optional=False,
            max_length=MAX_LENGTHS["company_name"],
        ),
        text_input(
            "email",
            LABELS["email"],
            initial=value("email"),
            hint="Invoices are e-mailed here.",
            max_length=EMAIL_MAX,
        ),
        text_input(
            "contact_number",
            LABELS["contact_number"],
            initial=value("contact_number"),
            max_length=MAX_LENGTHS["contact_number"],
        ),
    ]
    for name in ("address_line1", "address_line2", "city", "state", "postcode", "country"):
        out.append(text_input(name, LABELS[name], initial=value(name), max_length=MAX_LENGTHS[name]))
    out.append(
        text_input(
            "payment_terms_days",
            LABELS["payment_terms_days"],
            initial=value("payment_terms_days"),
            hint=f"Leave blank to use the global default ({default_days} days).",
            max_length=3,
        )
    )
    if psa_required:
        out.append(
            company_select(
                Ids.PSA_LINK, label="Link to PSA account", hint="The PSA company this customer is billed for."
            )
        )
    return out


def new_form(*, default_days: int, psa_required: bool, origin: dict[str, Any]) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_NEW,
        title="New end customer",
        submit="Create",
        blocks=customer_form_blocks(None, default_days=default_days, psa_required=psa_required),
        private_metadata=encode_metadata(**origin),
    )


def edit_form(customer: EndCustomer, *, default_days: int, parent_view_id: str | None) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_EDIT,
        title="Edit customer",
        submit="Save",
        blocks=customer_form_blocks(customer, default_days=default_days, psa_required=False),
        private_metadata=encode_metadata(customer_id=customer.id, parent=parent_view_id),
    )


def terms_form(customer: EndCustomer, *, default_days: int, parent_view_id: str | None) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_TERMS,
        title="Payment terms",
        submit="Save",
        blocks=[
            blocks.section(f"*{esc(customer.company_name)}*: days from invoice date to due date."),
            text_input(
                "payment_terms_days",
                "Payment terms override (days)",
                initial=customer.payment_terms_days,
                hint=f"Leave blank to use the global default ({default_days} days).",
                max_length=3,
            ),
        ],
        private_metadata=encode_metadata(customer_id=customer.id, parent=parent_view_id),
    )


def email_form(customer: EndCustomer, *, origin: dict[str, Any]) -> dict[str, Any]:
    return modal(
        callback_id=Ids.FORM_EMAIL,
        title="Add e-mail",
        submit="Save",
        blocks=[
            blocks.section(f"Where should *{esc(customer.company_name)}*'s invoices be e-mailed?"),
            text_input("email", "E-mail", initial=customer.email, optional=False, max_length=EMAIL_MAX),
        ],
        private_metadata=encode_metadata(customer_id=customer.id, **origin),
    )


# -- reading the forms back ------------------------------------------------------------------
# Each form's submitted state as a typed value, next to the builder that names its inputs. The
# text is as typed: core.customer_validation checks it (the CLI and CSV import go through it too).


@dataclass(frozen=True)
class CustomerForm:
    company_name: str | None = None
    email: str | None = None
    contact_number: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    payment_terms_days: str | None = None
    psa_ref: str | None = None  # the new-customer form, when a PSA is configured

    def customer_fields(self) -> dict[str, str | None]:
        """What `validate_customer` reads (everything but the PSA account)."""
        values = asdict(self)
        del values["psa_ref"]
        return values


def parse_customer_form(view: dict[str, Any]) -> CustomerForm:
    values = submitted(view)
    return CustomerForm(**{name: values.get(name) for name in CustomerForm.__dataclass_fields__})


@dataclass(frozen=True)
class TermsForm:
    payment_terms_days: str | None


def parse_terms_form(view: dict[str, Any]) -> TermsForm:
    return TermsForm(submitted(view).get("payment_terms_days"))


@dataclass(frozen=True)
class EmailForm:
    email: str | None


def parse_email_form(view: dict[str, Any]) -> EmailForm:
    return EmailForm(submitted(view).get("email"))
