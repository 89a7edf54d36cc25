"""What the scheduled-job tests share: no PSA configured, a fixed Sydney morning, a small book."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from core import billing_settings
from core.db import session_scope
from integrations.config import PsaSettings
from tests import factories

NO_PSA = PsaSettings(_env_file=None, rebill_psa=None)  # type: ignore[call-arg]


SYDNEY_0930 = datetime(2026, 12, 2, 9, 30, tzinfo=UTC) - timedelta(hours=11)  # 2 Dec 09:30 AEDT


def book(engine: Engine) -> None:
    factories.configure(engine)
    with session_scope(engine) as db:
        billing_settings.load(db).alert_channel_id = "C0ALERTS"
    billed = factories.customer(engine, "<!here> No Mail & Co", email=None)
    factories.customer(engine, "Idle No Mail", email=None)  # nothing to bill: not worth an alert
    factories.customer(engine, "Has Mail")
    factories.monthly_charge(engine, billed.id, "Seats", unit_price="10", effective_from="2026-11-01")
