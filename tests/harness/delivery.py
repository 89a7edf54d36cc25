"""Sending invoices in tests: a billed book, light templates, the SMTP config, one send, a dead worker."""

from __future__ import annotations

import functools
import socket
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import customers, invoices
from core.billrun import run_bill
from core.customer_validation import validate_customer
from core.db import session_scope
from core.delivery import SendResult, send_invoice
from core.mailer import SmtpConfig
from models.system import AuditLog, BillingSettings
from tests.factories import configure
from tests.harness.billbook import ACTOR, DEC, _charge
from tests.harness.clock import FixedClock

SENDER = "billing@msp.example"


SEND_DAY = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 12:00 in Sydney on the issue date


@functools.cache
def light_templates() -> Path:
    """An invoice template override with one plain font: WeasyPrint subsets each font face it
    embeds (about 0.4 s a face here), so the full invoice PDF is rendered only where it is the
    point of the test; the override goes through the same REBILL_TEMPLATES_DIR path as production."""
    folder = Path(tempfile.mkdtemp(prefix="rebill-templates-"))
    (folder / "invoice.html").write_text(
        "<html><body><p>Invoice {{ invoice.number }} for {{ customer.name }}: "
        "{{ invoice.total | money(invoice.currency) }}</p></body></html>\n"
    )
    return folder


def smtp_config(port: int, **kw: Any) -> SmtpConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "from_email": SENDER,
        "security": "none",
        "timeout": 5,
    }
    return SmtpConfig(**(values | kw))


def bill(engine: Engine, *people: tuple[str, str | None], instructions: str | None = None) -> dict[str, str]:
    """Customers (name, e-mail) with one charge each, billed for December: {name: invoice number}."""
    configure(engine, terms=14)
    with session_scope(engine) as db:
        ids = {}
        for name, email in people:
            row = customers.create(
                db, validate_customer({"company_name": name, "email": email}), actor=ACTOR, clock=FixedClock()
            )
            assert row.id is not None
            ids[name] = row.id
            _charge(db, row.id, "Managed workstation", "100", "2")
        settings = db.get(BillingSettings, 1)
        assert settings is not None
        settings.business_email = "accounts@msp.example"
        settings.payment_instructions = instructions
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        return {name: invoices.list_invoices(db=db, customer_id=cid)[0].number for name, cid in ids.items()}


def send(engine: Engine, server_port: int, number: str, clock: FixedClock, **kw: Any) -> SendResult:
    return send_invoice(
        engine=engine,
        smtp=smtp_config(server_port, **kw.pop("smtp", {})),
        invoice_ref=number,
        actor=ACTOR,
        clock=clock,
        **({"templates_dir": light_templates()} | kw),
    )


def dead_worker() -> str:
    """host:pid of a process that has exited (a child we started and reaped)."""
    probe = subprocess.Popen(["true"])
    probe.wait()
    return f"{socket.gethostname()}:{probe.pid}"


def actions(db: Session, invoice_id: int | None) -> list[str]:
    query = select(AuditLog.action).where(AuditLog.entity == "invoice", AuditLog.entity_id == str(invoice_id))
    return list(db.execute(query.order_by(AuditLog.id)).scalars())
