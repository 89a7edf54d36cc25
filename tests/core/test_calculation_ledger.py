"""core.calculation.bill with a ledger, pure (no database): labels, reasons, kinds, held catch-up.

The same cases as tests/core/test_ledger.py, without the database, so mutation testing can run
them for every mutant.
"""

from __future__ import annotations

from datetime import date

import pytest

from core.calculation import CATCH_UP, CREDIT, RECURRING, ChargeInput, Line, Period, ServiceInput, bill
from core.coverage import Version
from tests.harness.calculation_book import D, billed, nbn


def shown(lines: tuple[Line, ...]) -> list[tuple[str, str, D, str | None, int | None]]:
    return [(ln.kind, ln.description, ln.amount, ln.reason, ln.charge_version) for ln in lines]


def test_catch_up_and_this_month() -> None:
    result = bill(
        period=Period(2026, 12),
        mode="advance",
        charges=[nbn(effective_from=date(2026, 11, 12))],
        services=[],
        once_offs=[],
        coverage={},
        ledger_from=Period(2026, 1),
    )
    assert shown(result.lines) == [
        (
            "catch_up",
            "NBN 100 (12 Nov – 30 Nov 2026, catch-up, pro-rata 19/30 days)",
            D("63.33"),
            "catch-up",
            1,
        ),
        ("recurring", "NBN 100 (1 Dec – 31 Dec 2026)", D("100.00"), None, 1),
    ]
    assert [(ln.charge_id, ln.quantity, ln.unit_price, ln.taxable) for ln in result.lines] == [
        (7, D("1"), D("100"), True)
    ] * 2
    assert (result.lines[0].period_start, result.lines[0].period_end) == (
        date(2026, 11, 12),
        date(2026, 11, 30),
    )


def test_horizon_holds_older_catch_up_and_include_old_bills_it() -> None:
    common = {
        "period": Period(2026, 12),
        "mode": "advance",
        "charges": [nbn(effective_from=date(2026, 7, 15))],
        "services": [],
        "once_offs": [],
        "coverage": {},
        "ledger_from": Period(2026, 1),
    }
    held = bill(**common)  # type: ignore[arg-type]
    assert [(ln.kind, ln.period_start, ln.amount) for ln in held.held] == [
        (CATCH_UP, date(2026, 7, 15), D("54.84")),
        (CATCH_UP, date(2026, 8, 1), D("100.00")),
    ]
    assert [ln.period_start.month for ln in held.lines if ln.period_start] == [9, 10, 11, 12]
    everything = bill(**common, include_old=True)  # type: ignore[arg-type]
    assert everything.held == () and len(everything.lines) == 6
    one_month = bill(**common, horizon_months=1)  # type: ignore[arg-type]
    assert [ln.period_start.month for ln in one_month.held if ln.period_start] == [7, 8, 9, 10]
    assert [ln.period_start.month for ln in bill(**common, horizon_months=0).lines if ln.period_start] == [12]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="horizon"):
        bill(**common, horizon_months=-1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("charge", "services", "reason"),
    [
        (nbn(end_date=date(2026, 12, 10)), [], "ended, last day 10 Dec 2026"),
        (
            nbn(service_id=3),
            [ServiceInput(3, "cancelled", date(2026, 1, 1), date(2026, 12, 10), False)],
            "service cancelled, last day 10 Dec 2026",
        ),
        (
            nbn(service_id=3),
            [ServiceInput(3, "active", date(2026, 1, 1), date(2026, 12, 10), False)],
            "service ended, last day 10 Dec 2026",
        ),
    ],
    ids=["charge-ended", "service-cancelled", "service-ended"],
)
def test_credit_of_billed_days_no_longer_owed(
    charge: ChargeInput, services: list[ServiceInput], reason: str
) -> None:
    result = bill(
        period=Period(2027, 1),
        mode="advance",
        charges=[charge],
        services=services,
        once_offs=[],
        coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)},
        ledger_from=Period(2026, 12),
    )
    # Days 11..31 of 31 billed at 100: R(100) - R(100·10/31) = 100.00 - 32.26 = 67.74.
    assert shown(result.lines) == [
        (
            CREDIT,
            f"NBN 100 (11 Dec – 31 Dec 2026, credit: {reason}, pro-rata 21/31 days)",
            D("-67.74"),
            reason,
            1,
        )
    ]
    assert result.lines[0].quantity == D("-1")


def test_price_change_credits_at_the_old_price_and_bills_at_the_new() -> None:
    versions = (
        Version(1, date(2026, 1, 1), D("100"), D("1")),
        Version(2, date(2026, 12, 16), D("120"), D("1")),
    )
    result = bill(
        period=Period(2027, 1),
        mode="advance",
        charges=[nbn(unit_price=D("120"), versions=versions)],
        services=[],
        once_offs=[],
        coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)},
        ledger_from=Period(2026, 12),
    )
    assert shown(result.lines) == [
        (
            CREDIT,
            "NBN 100 (16 Dec – 31 Dec 2026, credit: price or quantity changed, pro-rata 16/31 days)",
            D("-51.61"),
            "price or quantity changed",
            1,
        ),
        (
            CATCH_UP,
            "NBN 100 (16 Dec – 31 Dec 2026, catch-up, pro-rata 16/31 days)",
            D("61.94"),
            "catch-up",
            2,
        ),
        (RECURRING, "NBN 100 (1 Jan – 31 Jan 2027)", D("120.00"), None, 2),
    ]


def test_start_moved_later_and_a_voided_bill_under_a_credit() -> None:
    moved = bill(
        period=Period(2027, 1),
        mode="advance",
        charges=[nbn(effective_from=date(2027, 1, 1))],
        services=[],
        once_offs=[],
        coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),)},
        ledger_from=Period(2026, 12),
    )
    assert [(ln.kind, ln.reason, ln.amount) for ln in moved.lines] == [
        (CREDIT, "starts 1 Jan 2027", D("-100.00")),
        (RECURRING, None, D("100.00")),
    ]
    orphan = bill(  # 21..31 Dec credited, the December bill then voided: the credit is billed back
        period=Period(2027, 1),
        mode="advance",
        charges=[nbn(end_date=date(2026, 12, 20))],
        services=[],
        once_offs=[],
        coverage={7: (billed(date(2026, 12, 21), date(2026, 12, 31), credit=True),)},
        ledger_from=Period(2026, 12),
    )
    assert [(ln.kind, ln.reason, ln.amount) for ln in orphan.lines] == [
        (CATCH_UP, "catch-up", D("64.52")),  # 1..20 Dec, never billed: R(100·20/31)
        (CATCH_UP, "reverses a credit whose invoice was voided", D("35.48")),  # 100.00 - 64.52
    ]
    twice = bill(  # two live bills of the same days: the extra one is credited
        period=Period(2026, 12),
        mode="advance",
        charges=[nbn()],
        services=[],
        once_offs=[],
        coverage={7: (billed(date(2026, 12, 1), date(2026, 12, 31)),) * 2},
    )
    assert [(ln.kind, ln.reason, ln.amount) for ln in twice.lines] == [(CREDIT, "billed twice", D("-100.00"))]


def test_excluded_periods_are_waived_not_caught_up() -> None:
    common = {
        "mode": "advance",
        "charges": [nbn(service_id=3)],
        "once_offs": [],
        "coverage": {},
        "ledger_from": Period(2026, 11),
        "waived": {3: frozenset({Period(2026, 11)})},
    }
    active = [ServiceInput(3, "active", date(2026, 1, 1), None, False)]
    result = bill(period=Period(2026, 12), services=active, **common)  # type: ignore[arg-type]
    assert [(ln.kind, ln.period_start) for ln in result.lines] == [(RECURRING, date(2026, 12, 1))]
    flagged = [ServiceInput(3, "active", date(2026, 1, 1), None, True)]
    assert bill(period=Period(2026, 12), services=flagged, **common).lines == ()  # type: ignore[arg-type]


def test_quarterly_piece_and_arrears() -> None:
    quarterly = nbn(unit_price=D("300"), frequency="quarterly", effective_from=date(2026, 10, 15))
    result = bill(
        period=Period(2026, 12),
        mode="advance",
        charges=[quarterly],
        services=[],
        once_offs=[],
        coverage={},
        ledger_from=Period(2026, 10),
    )
    assert shown(result.lines) == [
        (RECURRING, "NBN 100 (15 Oct – 31 Dec 2026, pro-rata 78/92 days)", D("254.35"), None, 1)
    ]
    arrears = bill(
        period=Period(2026, 12),
        mode="arrears",
        charges=[nbn(effective_from=date(2026, 10, 12))],
        services=[],
        once_offs=[],
        coverage={},
        ledger_from=Period(2026, 11),
    )
    assert [(ln.kind, ln.amount) for ln in arrears.lines] == [
        (CATCH_UP, D("64.52")),
        (RECURRING, D("100.00")),
    ]
