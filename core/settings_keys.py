"""The global billing settings by name, for `rebill-bot settings show|set` and scripts.

KEYS is the one table of settings a person can read and write outside Slack. **A new setting
joins `rebill-bot settings` by adding one `Key` to KEYS**: its name, the settings-form field it is
submitted as (the block id of the Slack settings modal), and how the stored value reads back as
that field's text. Nothing else changes: writing builds the whole form from the stored values,
lays the changes over it and hands it to `billing_settings.validate_form` and `save_all`, the very
functions behind the Slack modal, so the rules, the error wording and the audit trail exist once.

Values are text exactly as typed in the modal ("10" for a 10% GST rate, "09:00"), booleans for the
automation switches (the modal's checkboxes) and None when unset: `show --json` prints what `set`
takes back, so a saved configuration restores as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from core import billing_settings
from core.clock import Clock
from core.errors import ErrorCollector, FieldErrors
from models.system import BillingSettings

Value = str | bool | None
FLAGS_FIELD = "options"  # the modal's checkbox group that holds every on/off switch
TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class Key:
    name: str
    label: str
    read: Callable[[Session, BillingSettings], Any]
    field: str = ""  # the form field; defaults to the name
    flag: bool = False  # an on/off switch: a member of the modal's `options` checkboxes

    @property
    def form_field(self) -> str:
        return self.field or self.name


def _attr(name: str) -> Callable[[Session, BillingSettings], Any]:
    return lambda _db, row: getattr(row, name)


def _decimal(name: str) -> Callable[[Session, BillingSettings], Any]:
    def read(_db: Session, row: BillingSettings) -> str | None:
        value = getattr(row, name)
        return None if value is None else f"{value.normalize():f}"

    return read


def _percent(_db: Session, row: BillingSettings) -> str:
    return f"{(row.tax_rate * 100).normalize():f}"


KEYS: tuple[Key, ...] = (
    Key("business_name", "Your business name", _attr("business_name")),
    Key("default_payment_terms_days", "Default payment terms (days)", _attr("default_payment_terms_days")),
    Key("invoice_prefix", "Invoice prefix, e.g. INV-", _attr("invoice_prefix")),
    Key(
        "next_invoice_number",
        "Next invoice number (the starting number on a fresh database; never below one used)",
        billing_settings.next_sequence,
        field="invoice_start_number",
    ),
    Key("abn", "ABN", _attr("abn")),
    Key("business_address", "Business address (lines separated by newlines)", _attr("business_address")),
    Key("business_email", "Business e-mail", _attr("business_email")),
    Key("business_phone", "Business phone", _attr("business_phone")),
    Key(
        "payment_instructions", "Payment instructions printed on every invoice", _attr("payment_instructions")
    ),
    Key("logo_path", "Logo file (path on the server)", _attr("logo_path")),
    Key("tax_rate", "GST rate (%)", _percent),
    Key("currency", "Currency (ISO 4217, e.g. AUD)", _attr("currency")),
    Key("billing_mode", "Bill recurring charges in advance or arrears", _attr("billing_mode")),
    Key("alert_channel_id", "Alerts channel id (C…), with @rebill-bot invited", _attr("alert_channel_id")),
    Key("bill_run_day", "Bill-run day of the month (1-28)", _attr("bill_run_day")),
    Key("bill_run_hour", "Bill-run hour (0-23)", _attr("bill_run_hour")),
    Key("missing_email_digest_time", "Missing e-mail digest at (HH:MM)", _attr("missing_email_digest_time")),
    Key("auto_approve", "Approve new invoices automatically", _attr("auto_approve"), flag=True),
    Key("auto_send", "E-mail approved invoices automatically", _attr("auto_send"), flag=True),
    Key(
        "reminders",
        "E-mail payment reminders",
        _attr("reminders_enabled"),
        field="reminders",
        flag=True,
    ),
    Key(
        "change_threshold_pct",
        "Month close: flag a total that changed by more than this % since last month (1-99)",
        _attr("change_threshold_pct"),
    ),
    Key(
        "four_eyes",
        "Month close: whoever runs it can't approve its invoices",
        _attr("four_eyes"),
        flag=True,
    ),
    Key(
        "default_margin_percent",
        "Default margin (% on cost; unset: prices must be given)",
        _decimal("default_margin_percent"),
    ),
    Key(
        "margin_floor_percent",
        "Margin floor (%): a service earning less is flagged",
        _decimal("margin_floor_percent"),
    ),
    Key("credit_note_prefix", "Credit-note prefix, e.g. CN- (its own series)", _attr("credit_note_prefix")),
    Key(
        "back_billing_months",
        "Back-billing horizon in months (0-24): older catch-up waits for a decision; 0 holds all of it",
        _attr("back_billing_months"),
    ),
)
BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}
BY_FIELD: dict[str, Key] = {key.form_field: key for key in KEYS if not key.flag}


def hint(name: str) -> str:
    """Where a person changes a setting, for messages that may be read in Slack or on a terminal."""
    key = BY_NAME[name]
    example = "true" if key.flag else "…"
    return f"`/rebill settings` in Slack, or `rebill-bot settings set {name}={example}`"


def current(db: Session) -> dict[str, Value]:
    """Every setting as the text the form would show (None when unset)."""
    row = billing_settings.load(db)
    values: dict[str, Value] = {}
    for key in KEYS:
        value = key.read(db, row)
        if key.flag:
            values[key.name] = bool(value)
        else:
            values[key.name] = None if value in (None, "") else str(value)
    return values


class UnknownKeys(FieldErrors):
    pass


def parse_flag(name: str, value: Value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise FieldErrors({name: "Use true or false (yes/no, on/off)."})


def update(
    db: Session, changes: Mapping[str, Value], *, actor: str, clock: Clock
) -> dict[str, tuple[Value, Value]]:
    """Apply `changes` (by key name) through the settings form's own validation and save.

    Returns what changed, {name: (before, after)}. Raises FieldErrors keyed by *key name* (every
    problem at once, nothing written), or UnknownKeys for names not in KEYS.
    """
    unknown = [name for name in changes if name not in BY_NAME]
    if unknown:
        known = ", ".join(BY_NAME)
        raise UnknownKeys({name: f"no such setting (settings are: {known})" for name in unknown})
    before = current(db)
    form: dict[str, Any] = {}
    flags: set[str] = set()
    errors = ErrorCollector()
    for key in KEYS:
        value = changes.get(key.name, before[key.name])
        if key.flag:
            try:
                on = parse_flag(key.name, value)
            except FieldErrors as exc:
                errors.absorb(exc)
                continue
            if on:
                flags.add(key.form_field)
        else:
            form[key.form_field] = "" if value is None else str(value)
    form[FLAGS_FIELD] = sorted(flags)
    try:
        basics, more = billing_settings.validate_form(form)
    except FieldErrors as exc:
        errors.absorb(FieldErrors(_by_name(exc.errors)))
        raise FieldErrors(errors) from None
    errors.raise_if_any()
    try:
        billing_settings.save_all(db, basics, more, actor=actor, clock=clock)
    except FieldErrors as exc:  # the next number went below one already used
        raise FieldErrors(_by_name(exc.errors)) from None
    after = current(db)
    return {name: (before[name], after[name]) for name in BY_NAME if before[name] != after[name]}


def _by_name(errors: Mapping[str, str]) -> dict[str, str]:
    """Form-field errors under the key names a person typed."""
    return {BY_FIELD[field].name if field in BY_FIELD else field: text for field, text in errors.items()}
