"""Xero's lines in other features' views: the settings modal, the Home tab and an invoice.

Apart from `handlers.xero` (its listeners) so those views can show them without importing the
listeners, which themselves redraw invoice views.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.xero_sync import document_state
from core.xero_tokens import load_connection
from handlers import xero_views as views
from handlers.blocks import Block
from integrations.xero_auth import XeroConfig, XeroError, load_xero_config


def configured() -> tuple[bool, XeroConfig | None]:
    """(set up at all, usable config): a malformed set-up still counts as set up, to be reported."""
    try:
        config = load_xero_config()
    except XeroError:
        return True, None
    return config is not None, config


def settings_blocks(db: Session) -> list[Block]:
    return views.settings_section(load_connection(db), configured=configured()[0])


def home_text(db: Session) -> str:
    return views.connection_text(load_connection(db), configured=configured()[0])


def invoice_blocks(db: Session, invoice: Any) -> list[Block]:
    doc = document_state(db, invoice.id)
    if doc is None and not configured()[0]:
        return []
    row = load_connection(db)
    return views.invoice_blocks(invoice, doc, row.short_code if row else None)
