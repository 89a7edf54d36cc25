"""The global billing settings row: read with defaults, check what set-up still needs, update."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel.numbers import list_currencies
from sqlmodel import Session, select

from core import audit, numbering, payment_terms
from core.charge_validation import parse_margin
from core.clock import Clock
from core.customer_validation import parse_days, parse_email
from core.errors import ErrorCollector, FieldErrors
from core.text import clean_text
from models.invoices import Invoice, InvoiceSeries
from models.system import BillingSettings
from models.types import max_length

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


def currency(db: Session) -> str:
    """The configured currency: every amount shown in Slack or the CLI reads in it, as invoices do."""
    return load(db).currency


def default_terms(db: Session) -> int:
    return payment_terms.effective_days(None, load(db).default_payment_terms_days)


@dataclass(frozen=True)
class BasicsInput:
    business_name: str
    default_payment_terms_days: int
    invoice_prefix: str
    invoice_start_number: int


def validate_basics(raw: dict[str, Any]) -> BasicsInput:
    errors = ErrorCollector()
    name = clean_text(raw.get("business_name")) or ""
    if not name:
        errors["business_name"] = "Business name is required."
    elif len(name) > NAME_MAX:
        errors["business_name"] = f"Business name must be at most {NAME_MAX} characters."
    terms = parse_days(raw.get("default_payment_terms_days"), errors, "default_payment_terms_days")
    if terms is None and "default_payment_terms_days" not in errors:
        errors["default_payment_terms_days"] = "Default payment terms are required (days, 0 to 365)."
    prefix = clean_text(raw.get("invoice_prefix")) or ""
    if not prefix:
        errors["invoice_prefix"] = "Invoice prefix is required, e.g. INV-."
    elif not PREFIX.match(prefix):
        errors["invoice_prefix"] = "Use up to 20 letters, digits, - _ or /, starting with a letter or digit."
    start_text = clean_text(raw.get("invoice_start_number")) or ""
    start = None
    if not re.fullmatch(r"[0-9]{1,9}", start_text) or int(start_text) < 1:
        errors["invoice_start_number"] = "Starting number must be a whole number of at least 1."
    else:
        start = int(start_text)
    errors.raise_if_any()
    assert terms is not None and start is not None
    return BasicsInput(name, terms, prefix, start)


def save_basics(db: Session, basics: BasicsInput, *, actor: str, clock: Clock) -> BillingSettings:
    return save_all(db, basics, None, actor=actor, clock=clock)


@dataclass(frozen=True)
class MoreInput:
    """The settings beyond the first-time basics: business details, tax, schedule and alerts."""

    abn: str | None
    business_address: str | None
    business_email: str | None
    business_phone: str | None
    payment_instructions: str | None
    logo_path: str | None
    tax_rate: Decimal
    currency: str
    billing_mode: str
    alert_channel_id: str | None
    bill_run_day: int
    bill_run_hour: int
    auto_approve: bool
    auto_send: bool
    missing_email_digest_time: str
    reminders_enabled: bool
    four_eyes: bool = False
    change_threshold_pct: int = 20
    default_margin_percent: Decimal | None = None  # issue-16: % on cost; None = prices must be given
    margin_floor_percent: Decimal | None = None  # issue-16: margin % under which a row is an exception
    credit_note_prefix: str = "CN-"  # its own gapless series (see `check_series`)
    back_billing_months: int = 3  # catch-up older than this is held for a decision; 0 holds all of it


def text_limit(field: str) -> int:
    """The longest text a settings field holds (the model's max_length), for validation and the forms."""
    return max_length(BillingSettings, field)


NAME_MAX = text_limit("business_name")
MULTILINE = frozenset({"business_address", "payment_instructions"})


def _optional(raw: dict[str, Any], field: str, errors: ErrorCollector, label: str) -> str | None:
    text = clean_text(raw.get(field), multiline=field in MULTILINE) or ""
    limit = text_limit(field)
    if len(text) > limit:
        errors[field] = f"{label} must be at most {limit} characters."
    return text or None


def _whole(
    raw: dict[str, Any], field: str, low: int, high: int, errors: ErrorCollector, label: str, default: int
) -> int:
    text = str(raw.get(field) if raw.get(field) is not None else default).strip()
    if not re.fullmatch(r"[0-9]{1,2}", text) or not low <= int(text) <= high:
        errors[field] = f"{label} must be a whole number from {low} to {high}."
        return default
    return int(text)


def validate_more(raw: dict[str, Any]) -> MoreInput:
    errors = ErrorCollector()
    abn = _optional(raw, "abn", errors, "ABN")
    if abn and not re.fullmatch(r"[0-9 ]{9,20}", abn):
        errors["abn"] = "ABN: digits and spaces only, e.g. 51 824 753 556."
    address = _optional(raw, "business_address", errors, "Address")
    email = parse_email(raw.get("business_email"), errors, "business_email")
    phone = _optional(raw, "business_phone", errors, "Phone")
    instructions = _optional(raw, "payment_instructions", errors, "Payment instructions")
    logo = _optional(raw, "logo_path", errors, "Logo file")
    rate_text = (
        str(raw.get("tax_rate") if raw.get("tax_rate") is not None else "10")
        .strip()
        .removesuffix("%")
        .strip()
    )
    tax_rate = Decimal("0.1")
    if not re.fullmatch(r"[0-9]{1,2}(\.[0-9]{1,2})?", rate_text):
        errors["tax_rate"] = "GST rate is a percentage from 0 to 99.99, e.g. 10."
    else:
        tax_rate = Decimal(rate_text) / 100
    currency = str(raw.get("currency") or "AUD").strip().upper()
    if currency not in list_currencies():
        errors["currency"] = f"{currency} is not an ISO 4217 currency code (e.g. AUD, NZD)."
    mode = str(raw.get("billing_mode") or "advance")
    if mode not in ("advance", "arrears"):
        errors["billing_mode"] = "Choose in advance or in arrears."
    day = _whole(raw, "bill_run_day", 1, 28, errors, "Bill-run day", 1)
    hour = _whole(raw, "bill_run_hour", 0, 23, errors, "Bill-run hour", 2)
    threshold = _whole(raw, "change_threshold_pct", 1, 99, errors, "The change threshold", 20)
    horizon = _whole(raw, "back_billing_months", 0, 24, errors, "The back-billing horizon (months)", 3)
    cn_prefix = _credit_note_prefix(raw, errors)
    digest = str(raw.get("missing_email_digest_time") or "09:00")
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", digest):
        errors["missing_email_digest_time"] = "A time of day such as 09:00."
    channel = str(raw.get("alert_channel_id") or "").strip() or None
    if channel and not re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel):
        errors["alert_channel_id"] = "Choose a channel."
    margins: dict[str, Decimal | None] = {}
    for name in ("default_margin_percent", "margin_floor_percent"):  # issue-16
        try:
            margins[name] = parse_margin(raw.get(name), field=name)
        except FieldErrors as exc:
            errors.absorb(exc)
    errors.raise_if_any()
    flags = set(raw.get("options") or [])
    return MoreInput(
        abn=abn,
        business_address=address,
        business_email=email,
        business_phone=phone,
        payment_instructions=instructions,
        logo_path=logo,
        tax_rate=tax_rate,
        currency=currency,
        billing_mode=mode,
        alert_channel_id=channel,
        bill_run_day=day,
        bill_run_hour=hour,
        auto_approve="auto_approve" in flags,
        auto_send="auto_send" in flags,
        missing_email_digest_time=digest,
        reminders_enabled="reminders" in flags,
        four_eyes="four_eyes" in flags,
        change_threshold_pct=threshold,
        **margins,
        credit_note_prefix=cn_prefix,
        back_billing_months=horizon,
    )


def _credit_note_prefix(raw: dict[str, Any], errors: ErrorCollector) -> str:
    """The invoice prefix's rules, and never the invoice prefix itself: credit notes keep their own series."""
    value = raw.get("credit_note_prefix")
    prefix = "CN-" if value is None else clean_text(value) or ""
    if not prefix:
        errors["credit_note_prefix"] = "Credit-note prefix is required, e.g. CN-."
    elif not PREFIX.match(prefix):
        errors["credit_note_prefix"] = (
            "Use up to 20 letters, digits, - _ or /, starting with a letter or digit."
        )
    elif prefix.casefold() == (clean_text(raw.get("invoice_prefix")) or "").casefold():
        errors["credit_note_prefix"] = (
            "Use a prefix other than the invoice prefix: credit notes have their own series."
        )
    return prefix


def validate_form(values: dict[str, Any]) -> tuple[BasicsInput, MoreInput | None]:
    """The settings form as submitted (Slack's modal, or `rebill-bot settings set`), every field
    checked, every error reported at once. The first-time form has only the basics (no `tax_rate`)."""
    errors = ErrorCollector()
    basics = more = None
    try:
        basics = validate_basics(values)
    except FieldErrors as exc:
        errors.absorb(exc)
    if "tax_rate" in values:
        try:
            more = validate_more(values)
        except FieldErrors as exc:
            errors.absorb(exc)
    if errors or basics is None:
        raise FieldErrors(errors)
    return basics, more


def save_all(
    db: Session, basics: BasicsInput, more: MoreInput | None, *, actor: str, clock: Clock
) -> BillingSettings:
    """Save the basics (and, from `/rebill settings`, everything else), auditing what changed."""
    row = load(db)
    before = row.model_dump()
    same_series = (row.invoice_prefix or "") == basics.invoice_prefix
    values = dict(vars(basics)) | (dict(vars(more)) if more else {})
    for field, value in values.items():
        setattr(row, field, value)
    now = clock.now()
    row.configured_at = row.configured_at or now
    row.updated_at = now
    row.updated_by = actor
    db.add(row)
    changes = audit.changes_between(before, row.model_dump(), values)
    if changes:
        audit.record(db, actor=actor, entity="settings", entity_id=1, action="update", changes=changes)
    db.flush()
    check_series(db, row)
    set_next_number(db, row, basics.invoice_start_number, strict=same_series)
    return row


def check_series(db: Session, row: BillingSettings) -> None:
    """Refuse a prefix whose series already numbers the other kind of document.

    Each prefix is one gapless counter (`core.numbering`): a new prefix starts its own series and a
    prefix used before carries on where it stopped, so no number is ever handed out twice. But
    pointing credit notes at a series that has numbered invoices (or the other way round) would mix
    the two documents in one series, so that is refused, field by field, before anything is kept.
    """
    errors = ErrorCollector()
    for field, prefix, other in (
        ("invoice_prefix", row.invoice_prefix, "credit_note"),
        ("credit_note_prefix", row.credit_note_prefix, "invoice"),
    ):
        used = db.exec(
            select(Invoice.number).where(Invoice.series == (prefix or "").strip(), Invoice.doc_type == other)
        ).first()
        if used is not None:
            kind = "a credit note" if other == "credit_note" else "an invoice"
            errors[field] = f"{prefix} already numbers {kind} ({used}): choose another prefix."
    errors.raise_if_any()


def next_sequence(db: Session, row: BillingSettings) -> int:
    """The sequence the next invoice of the current prefix gets (the starting number if unused)."""
    prefix = (row.invoice_prefix or "").strip()
    current = db.exec(select(InvoiceSeries.next_number).where(InvoiceSeries.prefix == prefix)).first()
    return current if current is not None else row.invoice_start_number or 1


def set_next_number(db: Session, row: BillingSettings, sequence: int, *, strict: bool = True) -> None:
    """Move the series counter forward (never back: numbers already used must stay unique).

    A new prefix starts at `sequence`; switching back to a prefix used before carries on where it
    left off (`strict=False`: a lower number is ignored rather than refused, since the number shown
    in the form belonged to the other series).
    """
    prefix = numbering.lock_series(db, settings=row)
    series = db.get(InvoiceSeries, prefix)
    assert series is not None
    db.refresh(series)
    if sequence < series.next_number and strict:
        used = numbering.format_number(prefix, series.next_number - 1, row.invoice_number_padding)
        raise FieldErrors(
            {
                "invoice_start_number": f"{used} is already used: the next number can't go below {series.next_number}."
            }
        )
    if sequence > series.next_number:
        series.next_number = sequence
        db.add(series)
        db.flush()
