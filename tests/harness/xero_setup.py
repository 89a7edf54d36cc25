"""Wiring our Xero client to the fake: config, a clock-advancing sleep, the mapping, a billed month."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.engine import Engine

from core import invoices
from core.billrun import run_bill
from core.db import session_scope
from core.xero_api import xero_client
from core.xero_settings import load_settings
from core.xero_tokens import finish_authorization
from integrations.xero import XeroClient
from integrations.xero_auth import XeroConfig, begin_authorization
from models.invoices import Invoice
from tests.factories import configure, customer
from tests.harness.billbook import ACTOR, DEC, _charge
from tests.harness.clock import FixedClock
from tests.harness.fake_xero import FakeXero


def xero_config(fake: FakeXero, *, kind: str = "custom", timeout: float = 10.0) -> XeroConfig:
    return XeroConfig(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        kind=kind,  # type: ignore[arg-type]
        redirect_uri="http://127.0.0.1:8765/callback",
        identity_url=fake.base_url,
        authorize_url=fake.authorize_url,
        api_url=fake.api_url,
        connections_url=fake.connections_url,
        timeout=timeout,
    )


def client(engine: Engine, fake: FakeXero, clock: FixedClock, **kw: Any) -> XeroClient:
    """Our client; its waits move the shared fake clock instead of sleeping."""
    config = kw.pop("config", None) or xero_config(fake, timeout=kw.pop("timeout", 10.0))
    return xero_client(
        engine=engine, config=config, clock=clock, sleep=lambda s: clock.advance(seconds=s), **kw
    )


def connect_standard(engine: Engine, fake: FakeXero, clock: FixedClock) -> XeroConfig:
    """`xero connect` without a browser: follow the consent redirect ourselves."""
    config = xero_config(fake, kind="standard")
    auth = begin_authorization(config)
    answer = httpx.get(auth.url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    finish_authorization(engine, config, auth, answer.headers["Location"], clock=clock)
    return config


def map_codes(engine: Engine, *, status: str = "AUTHORISED") -> None:
    with session_scope(engine) as db:
        row = load_settings(db)
        row.account_code, row.tax_type_taxable, row.tax_type_free, row.invoice_status = (
            "200",
            "OUTPUT",
            "EXEMPTOUTPUT",
            status,
        )


# Lines whose GST rounded per line would not add up to GST rounded once per invoice.
AWKWARD = [
    ("Backup 5GB", "0.15", "3"),
    ("Phone line", "10.05", "1"),
    ("M365 seat", "8.35", "7"),
    ("Support hour", "137.45", "1.5"),
]


def billed_month(engine: Engine, names: list[str], *, approve: bool = True) -> dict[str, str]:
    """Customers billed for December with awkward amounts (one GST-free line each): {name: number}."""
    configure(engine, terms=14)
    ids = {name: customer(engine, name).id for name in names}
    with session_scope(engine) as db:
        for i, cid in enumerate(ids.values()):
            assert cid is not None
            for description, price, qty in AWKWARD[: 2 + i % 3]:
                _charge(db, cid, description, price, qty)
            _charge(db, cid, "Domain (GST-free)", "19.99", taxable=False)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    numbers = {}
    with session_scope(engine) as db:
        for name, cid in ids.items():
            invoice = invoices.list_invoices(db=db, customer_id=cid)[0]
            numbers[name] = invoice.number
            if approve:
                invoices.approve(db=db, ref=invoice.number, actor=ACTOR, clock=FixedClock())
    return numbers


def mark_sent(engine: Engine, number: str, clock: FixedClock) -> None:
    with session_scope(engine) as db:
        db.execute(update(Invoice).where(Invoice.number == number).values(status="sent", sent_at=clock.now()))
