"""One set of rules for an end customer, used by the Slack modals, the CSV import and the CLI."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from email_validator import EmailNotValidError, validate_email

from core.errors import ErrorCollector
from core.text import clean_text
from models.customers import EndCustomer
from models.types import max_length

PHONE = re.compile(r"^[0-9+()\-. ]+$")
# Read from the model (its Field(max_length=...)), so a form, the CLI and the column agree.
MAX_LENGTHS = {
    field: max_length(EndCustomer, field)
    for field in (
        "company_name",
        "contact_number",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postcode",
        "country",
    )
}
EMAIL_MAX = max_length(EndCustomer, "email")
LABELS = {
    "company_name": "Company name",
    "email": "E-mail",
    "contact_number": "Contact number",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "city": "Suburb / city",
    "state": "State",
    "postcode": "Postcode",
    "country": "Country",
    "payment_terms_days": "Payment terms (days)",
}


@dataclass(frozen=True)
class CustomerInput:
    company_name: str
    email: str | None = None
    contact_number: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    payment_terms_days: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


CUSTOMER_FIELDS = tuple(f.name for f in fields(CustomerInput))


def _clean(value: object) -> str | None:
    return clean_text(value)


def parse_email(raw: object, errors: ErrorCollector, field: str = "email") -> str | None:
    text = _clean(raw)
    if text is None:
        return None
    try:
        # Syntax only: a deliverability check would make the modal wait on DNS.
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors[field] = f"That isn't a valid e-mail address: {exc}"
        return None


def parse_days(
    raw: object, errors: ErrorCollector, field: str, *, label: str = "Payment terms"
) -> int | None:
    text = _clean(raw)
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,3}", text) or int(text) > 365:
        errors[field] = f"{label} must be a whole number of days from 0 to 365."
        return None
    return int(text)


def validate_customer(raw: dict[str, Any]) -> CustomerInput:
    """Trim, bound and normalise; raise FieldErrors naming every bad field at once."""
    errors = ErrorCollector()
    values: dict[str, Any] = {}
    for field, limit in MAX_LENGTHS.items():
        text = _clean(raw.get(field))
        if text is not None and len(text) > limit:
            errors[field] = f"{LABELS[field]} must be at most {limit} characters (it has {len(text)})."
        values[field] = text
    if values["company_name"] is None:
        errors["company_name"] = "Company name is required."
    contact = values["contact_number"]
    if contact and "contact_number" not in errors and not PHONE.match(contact):
        errors["contact_number"] = "Use digits, spaces and + ( ) - . only."
    values["email"] = parse_email(raw.get("email"), errors)
    values["payment_terms_days"] = parse_days(raw.get("payment_terms_days"), errors, "payment_terms_days")
    errors.raise_if_any()
    return CustomerInput(**values)
