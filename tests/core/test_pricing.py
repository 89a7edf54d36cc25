"""Price from cost and margin, and cost kept off everything the customer sees."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import charges, invoices, rendering
from core.billrun import run_bill
from core.charge_validation import validate_once_off, validate_recurring_charge
from core.db import session_scope
from core.errors import FieldErrors
from core.money import margin_percent_of, price_from_cost
from models.charges import RecurringCharge
from tests.harness.billbook import ACTOR, DEC
from tests.harness.clock import FixedClock
from tests.harness.usage_book import build

D = Decimal


@pytest.mark.parametrize(
    ("cost", "margin", "price"),
    [
        ("10", "15", "11.50"),
        ("0.0333", "50", "0.05"),  # 0.04995 rounds up
        ("1.005", "0", "1.01"),  # a tie goes away from zero
        ("2.675", "0", "2.68"),  # binary floating point would say 2.67
        ("13.5791", "25", "16.97"),  # 16.973875
        ("0.01", "12.5", "0.01"),  # 0.01125
        ("99.99", "1000", "1099.89"),
    ],
)
def test_price_is_cost_times_one_plus_margin_rounded_half_up_to_the_cent(
    cost: str, margin: str, price: str
) -> None:
    assert price_from_cost(D(cost), D(margin)) == D(price)
    assert price_from_cost(D(cost), D(margin)).as_tuple().exponent == -2


def test_price_from_cost_refuses_floats() -> None:
    with pytest.raises(TypeError):
        price_from_cost(10.0, D("15"))  # type: ignore[arg-type]


def test_margin_percent_is_on_cost() -> None:
    assert margin_percent_of(D("115"), D("100")) == D("15.00")
    assert margin_percent_of(D("1"), D("3")) == D("-66.67")
    assert margin_percent_of(D("5"), D("0")) is None


def test_charge_priced_from_default_margin_service_override_or_refused(engine: Engine) -> None:
    book = build(engine, margin="25")
    with session_scope(engine) as db:
        [firewall] = charges.list_recurring_charges(db=db, customer_id=book.alpha)
        assert (firewall.unit_cost, firewall.unit_price) == (D("13.5791"), D("16.97"))
        on_voice = charges.add_recurring_charge(
            db=db,
            actor=ACTOR,
            customer_id=book.alpha,
            data=validate_recurring_charge(
                description="SIP trunk",
                unit_price=None,
                unit_cost="20",
                quantity="2",
                frequency="monthly",
                effective_from="2026-01-01",
                service_id=book.voice,
            ),
            clock=FixedClock(),
        )
        assert on_voice.unit_price == D("30.00")  # the service's 50% beats the default 25%
        given = charges.add_once_off(
            db=db,
            actor=ACTOR,
            customer_id=book.bravo,
            data=validate_once_off(
                description="Switch", unit_price="500", unit_cost="410", quantity="1", item_date="2026-11-02"
            ),
            clock=FixedClock(),
        )
        assert (given.unit_price, given.unit_cost) == (D("500"), D("410"))  # a given price wins


def test_no_price_and_no_margin_is_a_field_error(engine: Engine) -> None:
    book = build(engine, margin=None)
    with session_scope(engine) as db, pytest.raises(FieldErrors) as caught:
        charges.add_once_off(
            db=db,
            actor=ACTOR,
            customer_id=book.bravo,
            data=validate_once_off(
                description="Switch", unit_price="", unit_cost="410", quantity="1", item_date="2026-11-02"
            ),
            clock=FixedClock(),
        )
    assert "no margin" in caught.value.errors["unit_price"]


def test_neither_price_nor_cost_is_refused_before_the_database() -> None:
    with pytest.raises(FieldErrors) as caught:
        validate_recurring_charge(
            description="X", unit_price="", quantity="1", frequency="monthly", effective_from="2026-01-01"
        )
    assert "unit cost" in caught.value.errors["unit_price"]


def test_preview_carries_cost_and_the_invoice_line_keeps_it_internally(engine: Engine) -> None:
    book = build(engine)
    with session_scope(engine) as db:
        lines, _ = charges.preview(db=db, customer_id=book.alpha, period=DEC)
    [line] = lines
    assert (line.amount, line.unit_cost, line.cost) == (D("16.97"), D("13.5791"), D("13.58"))
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        invoice = invoices.list_invoices(db=db, customer_id=book.alpha)[0]
        [stored] = invoices.lines_of(db=db, invoice_id=invoice.id or 0)
        assert (stored.amount, stored.cost, stored.unit_cost) == (D("16.97"), D("13.58"), D("13.5791"))


def _no_cost(text: str) -> None:
    for secret in ("13.58", "13.5791", "13.57", "unit cost", "wholesale"):
        assert secret not in text.lower(), f"{secret!r} reached the customer"


def test_cost_never_reaches_html_pdf_or_email(engine: Engine) -> None:
    book = build(engine)
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    with Session(engine) as db:
        invoice = invoices.list_invoices(db=db, customer_id=book.alpha)[0]
        context = rendering.load_context(db=db, invoice=invoice)
        pdf = rendering.invoice_pdf(db=db, invoice=invoice, env=rendering.environment())
    env = rendering.environment()
    html = rendering.render_invoice_html(env, context)
    assert "$16.97" in html  # the price is there: the check below looks at the right document
    _no_cost(html)
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "16.97" in pdf_text
    _no_cost(pdf_text)
    email = rendering.render_email(env, context)
    for part in (email.subject, email.text, email.html):
        _no_cost(part)


def test_editing_a_charge_to_blank_price_reprices_it_from_cost(engine: Engine) -> None:
    book = build(engine)
    with session_scope(engine) as db:
        [firewall] = charges.list_recurring_charges(db=db, customer_id=book.alpha)
        charges.edit_recurring_charge(
            db=db,
            actor=ACTOR,
            charge_id=firewall.id or 0,
            data=validate_recurring_charge(
                description="Managed firewall",
                unit_price=" ",
                unit_cost="20",
                quantity="1",
                frequency="monthly",
                effective_from="2026-01-01",
            ),
            clock=FixedClock(),
        )
        assert db.get(RecurringCharge, firewall.id).unit_price == D("25.00")  # type: ignore[union-attr]
