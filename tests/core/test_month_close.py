"""core.month_close without Slack: exceptions (each rule, the threshold setting, the extension
point), approve / hold, the four-eyes rule, Send all of approved only, the report's states."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from core import billing_settings, charges, invoices
from core.calculation import Period
from core.charge_validation import validate_recurring_charge
from core.close_exceptions import RULES, CloseException, RuleInput
from core.db import session_scope
from core.delivery import send_invoice
from core.errors import NotAllowed
from core.month_close import State, approve, build_report, close_month, hold, send_approved
from models.customers import EndCustomer
from models.invoices import Invoice
from tests import factories
from tests.harness.clock import FixedClock
from tests.harness.delivery import light_templates, smtp_config
from tests.harness.smtp import SmtpServer

DEC = Period.parse("2026-12")
NOV = Period.parse("2026-11")


@pytest.fixture
def smtp() -> SmtpServer:
    server = SmtpServer().start()
    yield server  # type: ignore[misc]
    server.stop()


def customers(engine: Engine) -> dict[str, int]:
    factories.configure(engine)
    ids = {}
    for name, email in (
        ("Steady", "a@x.example"),
        ("Jumpy", "b@x.example"),
        ("Quiet", None),
        ("Gone", "d@x.example"),
    ):
        customer = factories.customer(engine, name, email=email)
        ids[name] = customer.id
        factories.monthly_charge(
            engine, customer.id, "Managed IT", unit_price="100", effective_from="2026-11-01"
        )
    return ids


def close(engine: Engine, clock: FixedClock, period: Period = DEC, **kw: object):  # type: ignore[no-untyped-def]
    return close_month(engine=engine, period=period, actor=kw.pop("actor", "U0RUNNER"), clock=clock, **kw)  # type: ignore[arg-type]


def codes(report) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {e.customer_name: [x.code for x in e.exceptions] for e in report.entries}


def test_exception_rules_threshold_and_extension_point(engine: Engine, clock: FixedClock) -> None:
    ids = customers(engine)
    close(engine, clock, NOV)
    with session_scope(engine) as db:
        db.execute(update(EndCustomer).where(EndCustomer.id == ids["Gone"]).values(psa_inactive=True))
    report = close(engine, clock)
    with session_scope(engine) as db:  # Jumpy's December total went up 30% on November's
        db.execute(
            update(Invoice)
            .where(Invoice.customer_id == ids["Jumpy"], Invoice.period == "2026-12")
            .values(total=Decimal("143.00"))
        )
        db.execute(
            update(Invoice)
            .where(Invoice.customer_id == ids["Steady"], Invoice.period == "2026-12")
            .values(total=Decimal("0.00"))
        )
    report = build_report(engine, "2026-12", clock=clock, psa_configured=True)
    assert codes(report) == {
        "Steady": ["total_changed", "zero_or_credit", "not_psa_linked"],
        "Jumpy": ["total_changed", "not_psa_linked"],
        "Quiet": ["no_email", "not_psa_linked"],
        "Gone": ["inactive_in_psa", "not_psa_linked"],
    }
    jumpy = next(e for e in report.entries if e.customer_name == "Jumpy")
    assert jumpy.exceptions[0].message == "total up 30% since 2026-11 ($110.00 → $143.00)"
    with session_scope(engine) as db:
        billing_settings.load(db).change_threshold_pct = 30
    assert codes(build_report(engine, "2026-12", clock=clock))["Jumpy"] == []  # 30% is not more than 30%

    def margin_below_floor(data: RuleInput) -> CloseException | None:  # what issue 16 plugs in
        return (
            CloseException("margin_below_floor", "margin 3% is below the 10% floor")
            if data.customer and data.customer.company_name == "Steady"
            else None
        )

    extended = build_report(engine, "2026-12", clock=clock, rules=[*RULES, margin_below_floor])
    assert codes(extended)["Steady"] == ["total_changed", "zero_or_credit", "margin_below_floor"]


def test_four_eyes_hold_and_send_all_approved_only(
    engine: Engine, clock: FixedClock, smtp: SmtpServer
) -> None:
    ids = customers(engine)
    with session_scope(engine) as db:
        billing_settings.load(db).four_eyes = True
    report = close(engine, clock, actor="U0RUNNER")
    assert report.run_by == "U0RUNNER" and report.did_close
    assert {e.state for e in report.entries} == {State.AWAITING_APPROVAL, State.NO_EMAIL}
    steady, jumpy, quiet, gone = (e.invoice_id for e in report.entries)
    with pytest.raises(NotAllowed, match="Four-eyes rule: you ran the 2026-12 bill run"):
        approve(engine=engine, invoice_id=steady, actor="U0RUNNER", clock=clock)
    # the invoice view's Approve
    with pytest.raises(NotAllowed, match="Four-eyes rule"), session_scope(engine) as db:
        invoices.approve(db=db, ref=steady, actor="U0RUNNER", clock=clock)
    with pytest.raises(NotAllowed, match="Four-eyes rule"):  # sending a draft approves it first
        send_invoice(
            engine=engine, smtp=smtp_config(smtp.port), invoice_ref=steady, actor="U0RUNNER", clock=clock
        )
    assert smtp.received == []
    for invoice_id in (steady, jumpy, gone):
        approve(engine=engine, invoice_id=invoice_id, actor="U0CHECKER", clock=clock)
    hold(engine=engine, invoice_id=gone, actor="U0CHECKER", clock=clock, reason="ask about the contract")
    results = send_approved(
        engine=engine,
        period="2026-12",
        actor="U0CHECKER",
        clock=clock,
        smtp=smtp_config(smtp.port),
        templates_dir=light_templates(),
    )
    assert sorted(r.number for r in results) == ["INV-00001", "INV-00002"]
    assert sorted(m.envelope_to[0] for m in smtp.received) == ["a@x.example", "b@x.example"]
    after = build_report(engine, "2026-12", clock=clock)
    assert [e.state for e in after.entries] == [State.SENT, State.SENT, State.NO_EMAIL, State.HELD]
    assert after.approved_by == ["U0CHECKER"] and after.sent_by == ["U0CHECKER"]
    assert ids and quiet


def test_auto_approve_holds_exceptions_and_auto_send_sends_the_rest(engine: Engine, smtp: SmtpServer) -> None:
    customers(engine)
    with session_scope(engine) as db:
        row = billing_settings.load(db)
        row.auto_approve = row.auto_send = True
    clock = FixedClock(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    report = close(
        engine,
        clock,
        actor="system:billrun",
        smtp=smtp_config(smtp.port),
        templates_dir=light_templates(),
        psa_configured=False,
    )
    assert [e.state for e in report.entries] == [State.SENT, State.SENT, State.HELD, State.SENT]
    assert "no e-mail address" in (report.entries[2].held_reason or "")
    again = close(
        engine, clock, actor="system:billrun", smtp=smtp_config(smtp.port), templates_dir=light_templates()
    )
    assert not again.did_close and again.sent_now == [] and len(smtp.received) == 3


def test_close_settings_are_validated() -> None:
    from core.billing_settings import validate_more
    from core.errors import FieldErrors

    chosen = validate_more({"change_threshold_pct": "35", "options": ["four_eyes"]})
    assert (chosen.change_threshold_pct, chosen.four_eyes, chosen.auto_send) == (35, True, False)
    assert validate_more({}).change_threshold_pct == 20
    with pytest.raises(FieldErrors) as refused:
        validate_more({"change_threshold_pct": "150"})
    assert refused.value.errors == {
        "change_threshold_pct": "The change threshold must be a whole number from 1 to 99."
    }


def test_catch_up_beyond_the_horizon_is_an_exception_until_someone_bills_it(
    engine: Engine, clock: FixedClock
) -> None:
    """The ledger's held catch-up (July 15-31 and August of a charge entered in December, horizon
    3 months: 54.84 + 100.00 = 154.84) is kept on the invoice and shown as an exception; closing
    with the older catch-up included bills it (on the regenerated draft) and the exception goes."""
    from tests.harness.ledger_book import charge, customer

    factories.configure(engine)
    first = customer(engine, "First Customer")
    charge(engine, first, "Backup", "50", "2026-01-01")
    close(engine, clock, Period(2026, 1))  # the ledger starts in January (the book's first invoice)
    alpha = customer(engine)
    charge(engine, alpha, "NBN 100", "100", "2026-07-15")
    report = close(engine, clock)
    alpha_entry = next(e for e in report.entries if e.customer_id == alpha)
    [held] = [x for x in alpha_entry.exceptions if x.code == "old_catch_up"]
    assert held.message.startswith("$154.84 of catch-up older than the back-billing horizon")
    with session_scope(engine) as db:
        invoice = invoices.get(db=db, invoice_id=alpha_entry.invoice_id)
        assert invoice.held_catch_up == Decimal("154.84")
        invoices.void(db=db, ref=invoice.number, actor="U0ADMIN", clock=clock)
    again = close(engine, clock, include_old_catch_up=True)
    entry = next(e for e in again.entries if e.customer_id == alpha)
    assert "old_catch_up" not in [x.code for x in entry.exceptions]
    # 54.84 (15-31 Jul) + 4 x 100.00 (Aug-Nov) + 100.00 (Dec) = 554.84; GST per line 55.48: 610.32.
    assert entry.total == Decimal("610.32")


def test_margin_below_the_floor_is_an_exception(engine: Engine, clock: FixedClock) -> None:
    """Sell 110.00 on a cost of 100.00: a 10.00% margin on cost; under a 15% floor it is flagged,
    and under a 10% floor it is not (10% is not below 10%)."""
    factories.configure(engine)
    thin = factories.customer(engine, "Thin Margins", email="a@x.example")
    with session_scope(engine) as db:
        billing_settings.load(db).margin_floor_percent = Decimal("15")
        charges.add_recurring_charge(
            db=db,
            actor="U0ADMIN",
            customer_id=thin.id,
            data=validate_recurring_charge(
                description="NBN 100",
                unit_price="110",
                unit_cost="100",
                quantity="1",
                frequency="monthly",
                effective_from="2026-12-01",
            ),
            clock=FixedClock(),
        )
    report = close(engine, clock)
    [entry] = report.entries
    [flag] = [x for x in entry.exceptions if x.code == "margin_below_floor"]
    assert flag.message == "margin 10.00% on cost is below the floor of 15%"
    with session_scope(engine) as db:
        billing_settings.load(db).margin_floor_percent = Decimal("10")
    assert "margin_below_floor" not in codes(build_report(engine, "2026-12", clock=clock))["Thin Margins"]
