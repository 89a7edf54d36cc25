"""The global billing settings row: read with defaults, check what set-up still needs, update."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from core import audit
from core.clock import Clock
from core.customer_validation import parse_days
from core.errors import FieldErrors
from models.system import BillingSettings

REQUIRED = {
    "business_name": "Business name",
    "default_payment_terms_days": "Default payment terms",
    "invoice_prefix": "Invoice prefix",
    "invoice_start_number": "Starting invoice number",
}
PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/]{0,19}$")


def load(db: Session) -> BillingSettings:
    """The row, created with defaults on first use so callers never handle 'no settings'."""
    row = db.get(BillingSettings, 1)
    if row is None:
        row = BillingSettings(id=1)
        db.add(row)
        db.flush()
    return row


def missing(row: BillingSettings) -> list[str]:
    """Names of the required fields still unset: until this is empty, offer the set-up modal."""
    return [field for field in REQUIRED if getattr(row, field) in (None, "")]


def is_configured(db: Session) -> bool:
    return not missing(load(db))


def default_terms(db: Session) -> int:
    return load(db).default_payment_terms_days or 0


@dataclass(frozen=True)
class BasicsInput:
    business_name: str
    default_payment_terms_days: int
    invoice_prefix: str
    invoice_start_number: int


def validate_basics(raw: dict[str, Any]) -> BasicsInput:
    errors: dict[str, str] = {}
    name = " ".join(str(raw.get("business_name") or "").split())
    if not name:
        errors["business_name"] = "Business name is required."
    elif len(name) > 100:
        errors["business_name"] = "Business name must be at most 100 characters."
    terms = parse_days(raw.get("default_payment_terms_days"), errors, "default_payment_terms_days")
    if terms is None and "default_payment_terms_days" not in errors:
        errors["default_payment_terms_days"] = "Default payment terms are required (days, 0 to 365)."
    prefix = str(raw.get("invoice_prefix") or "").strip()
    if not prefix:
        errors["invoice_prefix"] = "Invoice prefix is required, e.g. INV-."
    elif not PREFIX.match(prefix):
        errors["invoice_prefix"] = "Use up to 20 letters, digits, - _ or /, starting with a letter or digit."
    start_text = str(raw.get("invoice_start_number") or "").strip()
    start = None
    if not re.fullmatch(r"\d{1,9}", start_text) or int(start_text) < 1:
        errors["invoice_start_number"] = "Starting number must be a whole number of at least 1."
    else:
        start = int(start_text)
    if errors:
        raise FieldErrors(errors)
    assert terms is not None and start is not None
    return BasicsInput(name, terms, prefix, start)


def save_basics(db: Session, basics: BasicsInput, *, actor: str, clock: Clock) -> BillingSettings:
    row = load(db)
    before = row.model_dump()
    for field, value in vars(basics).items():
        setattr(row, field, value)
    now = clock.now()
    row.configured_at = row.configured_at or now
    row.updated_at = now
    row.updated_by = actor
    db.add(row)
    changes = audit.changes_between(before, row.model_dump(), REQUIRED)
    if changes:
        audit.record(db, actor=actor, entity="settings", entity_id=1, action="update", changes=changes)
    db.flush()
    return row
