"""The Xero mapping (account code, tax types, status to push, push mode): read, default, validate.

One place for the rules, used by the Slack settings section, `rebill-bot xero settings`, the push
and the CSV export. The choices come from the organisation itself (`GET /Accounts`, `GET /TaxRates`),
so a code Xero does not have cannot be saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlmodel import Session

from core import audit
from core.clock import Clock
from core.errors import ErrorCollector, NotAllowed
from core.xero_documents import Mapping
from models.xero import XeroSettings

STATUSES: Final = ("DRAFT", "AUTHORISED")
PUSH_ON_APPROVE: Final = "approve"
PUSH_BY_HAND: Final = "manual"
PUSH_MODES: Final = (PUSH_ON_APPROVE, PUSH_BY_HAND)
# Xero's codes for GST on income and GST-free income (Australia; NZ's 15% GST is OUTPUT2).
TAXABLE_DEFAULTS: Final = ("OUTPUT", "OUTPUT2")
FREE_DEFAULTS: Final = ("EXEMPTOUTPUT", "EXEMPTOUTPUT2", "ZERORATEDOUTPUT")


def load_settings(db: Session) -> XeroSettings:
    row = db.get(XeroSettings, 1)
    if row is None:
        row = XeroSettings(id=1)
        db.add(row)
        db.flush()
    return row


def mapping_of(row: XeroSettings) -> Mapping:
    """The mapping, or a clear refusal naming what to set (nothing is pushed half-mapped)."""
    missing = [
        label
        for label, value in (
            ("sales account code", row.account_code),
            ("tax type for taxable lines", row.tax_type_taxable),
            ("tax type for GST-free lines", row.tax_type_free),
        )
        if not value
    ]
    if missing:
        raise NotAllowed(
            f"Set the Xero {', '.join(missing)} first (/rebill settings → Xero, or `rebill-bot xero settings`)."
        )
    assert row.account_code and row.tax_type_taxable and row.tax_type_free
    return Mapping(row.account_code, row.tax_type_taxable, row.tax_type_free, row.invoice_status)


@dataclass(frozen=True)
class Choices:
    """What the organisation offers: revenue accounts and tax rates usable on sales."""

    accounts: tuple[tuple[str, str], ...]  # (code, name)
    tax_rates: tuple[tuple[str, str, Decimal], ...]  # (TaxType, name, rate %)
    default_taxable: str | None
    default_free: str | None


def choices_from(accounts: list[dict[str, Any]], tax_rates: list[dict[str, Any]]) -> Choices:
    revenue = tuple(
        (a["Code"], a.get("Name", a["Code"]))
        for a in accounts
        if a.get("Code")
        and a.get("Type") in ("REVENUE", "SALES", "OTHERINCOME")
        and a.get("Status", "ACTIVE") == "ACTIVE"
    )
    rates = tuple(
        (
            r["TaxType"],
            r.get("Name", r["TaxType"]),
            Decimal(str(r.get("EffectiveRate", r.get("DisplayTaxRate", 0)))),
        )
        for r in tax_rates
        if r.get("Status", "ACTIVE") == "ACTIVE" and r.get("CanApplyToRevenue", True)
    )
    types = [t for t, _, _ in rates]
    taxable = next((t for t in TAXABLE_DEFAULTS if t in types), None) or next(
        (t for t, _, rate in rates if rate > 0), None
    )
    free = next((t for t in FREE_DEFAULTS if t in types), None) or next(
        (t for t, _, rate in rates if rate == 0), None
    )
    return Choices(revenue, rates, taxable, free)


def update(
    db: Session, values: dict[str, str | None], *, choices: Choices | None, actor: str, clock: Clock
) -> XeroSettings:
    """Save the given fields (others unchanged) after checking them against the organisation's lists.

    Tax types left unset take the organisation's own GST-on-income and GST-free types.
    """
    row = load_settings(db)
    errors = ErrorCollector()
    clean: dict[str, str | None] = {}
    code = values.get("account_code")
    if code is not None:
        if choices is not None and code not in {c for c, _ in choices.accounts}:
            errors["account_code"] = f"Xero has no revenue account {code!r}"
        clean["account_code"] = code
    for name in ("tax_type_taxable", "tax_type_free"):
        tax = values.get(name)
        if tax is not None:
            if choices is not None and tax not in {t for t, _, _ in choices.tax_rates}:
                errors[name] = f"Xero has no sales tax type {tax!r}"
            clean[name] = tax
    status = values.get("invoice_status")
    if status is not None:
        if status.upper() not in STATUSES:
            errors["invoice_status"] = "must be DRAFT or AUTHORISED"
        clean["invoice_status"] = status.upper()
    mode = values.get("push_mode")
    if mode is not None:
        if mode not in PUSH_MODES:
            errors["push_mode"] = "must be approve (push when approved) or manual (push by hand)"
        clean["push_mode"] = mode
    errors.raise_if_any()
    if choices is not None:
        if not (clean.get("tax_type_taxable") or row.tax_type_taxable) and choices.default_taxable:
            clean["tax_type_taxable"] = choices.default_taxable
        if not (clean.get("tax_type_free") or row.tax_type_free) and choices.default_free:
            clean["tax_type_free"] = choices.default_free
    before = {k: getattr(row, k) for k in clean}
    for name, value in clean.items():
        setattr(row, name, value)
    row.updated_at, row.updated_by = clock.now(), actor
    db.add(row)
    audit.record(
        db,
        actor=actor,
        entity="xero_settings",
        entity_id=1,
        action="update",
        changes=audit.changes_between(before, clean, tuple(clean)),
    )
    db.flush()
    return row
