"""Hand-worked invoices: each case shows its arithmetic, so a reviewer can check it with a pencil.

GST is 10% throughout and rounded once per invoice, half-up. Month lengths used below:
Jan 31, Feb 28 (29 in 2028), Mar 31, Apr 30, May 31, Jun 30, Jul 31, Nov 30, Dec 31.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from core.calculation import ChargeInput, OnceOffInput, Period, ServiceInput, bill_lines, totals
from tests.harness.calculation_book import charge

GST = Decimal("0.10")


def monthly(
    id: int, price: str, start: date, *, qty: str = "1", service: int | None = None, **kw: Any
) -> ChargeInput:
    """A charge (monthly unless `frequency=` says otherwise), positional for compact case tables."""
    return charge(id=id, price=price, start=start, quantity=qty, service_id=service, **kw)


def once(id: int, price: str, qty: str, day: date, *, taxable: bool = True) -> OnceOffInput:
    return OnceOffInput(
        id=id,
        description=f"Item {id}",
        unit_price=Decimal(price),
        quantity=Decimal(qty),
        item_date=day,
        taxable=taxable,
    )


def service(id: int, *, status: str = "active", start: date = date(2020, 1, 1), **kw: object) -> ServiceInput:
    return ServiceInput(
        id=id,
        status=status,
        start_date=start,
        end_date=kw.get("end"),  # type: ignore[arg-type]
        exclude_next_invoice=bool(kw.get("exclude", False)),
    )


@dataclass(frozen=True)
class Case:
    name: str
    working: str
    period: str
    lines: list[tuple[str, int, str]]  # (kind, source id, amount)
    subtotal: str
    tax: str
    total: str
    mode: str = "advance"
    charges: list[ChargeInput] = field(default_factory=list)
    services: list[ServiceInput] = field(default_factory=list)
    once_offs: list[OnceOffInput] = field(default_factory=list)
    description: str | None = None  # of the first line, when the case is about wording


CASES = [
    Case(
        "full month, advance",
        "22.50 x 3 = 67.50 for all of Dec 2026. GST 6.75. Total 74.25.",
        "2026-12",
        [("recurring", 1, "67.50")],
        "67.50",
        "6.75",
        "74.25",
        charges=[
            monthly(1, "22.50", date(2026, 1, 1), qty="3", description="Microsoft 365 Business Premium")
        ],
        description="Microsoft 365 Business Premium (1 Dec – 31 Dec 2026)",
    ),
    Case(
        "pro-rata start, advance",
        "Starts 15 Dec: 31 - 15 + 1 = 17 days of 31. 67.50 x 17 / 31 = 1147.50 / 31 = 37.0161… → 37.02. "
        "GST 3.702 → 3.70. Total 40.72.",
        "2026-12",
        [("recurring", 1, "37.02")],
        "37.02",
        "3.70",
        "40.72",
        charges=[
            monthly(1, "22.50", date(2026, 12, 15), qty="3", description="Microsoft 365 Business Premium")
        ],
        description="Microsoft 365 Business Premium (15 Dec – 31 Dec 2026, pro-rata 17/31 days)",
    ),
    Case(
        "pro-rata start, arrears bills it a month later",
        "Invoice 2027-01 in arrears covers Dec 2026: same 17/31 days, 37.02. GST 3.70. Total 40.72.",
        "2027-01",
        [("recurring", 1, "37.02")],
        "37.02",
        "3.70",
        "40.72",
        mode="arrears",
        charges=[monthly(1, "22.50", date(2026, 12, 15), qty="3")],
    ),
    Case(
        "arrears invoice before the charge started",
        "Invoice 2026-12 in arrears covers Nov 2026; the charge starts 15 Dec. Nothing to bill.",
        "2026-12",
        [],
        "0.00",
        "0.00",
        "0.00",
        mode="arrears",
        charges=[monthly(1, "22.50", date(2026, 12, 15), qty="3")],
    ),
    Case(
        "pro-rata end",
        "Ends 10 Mar: 10 days of 31. 100 x 10 / 31 = 32.258… → 32.26. GST 3.226 → 3.23. Total 35.49.",
        "2026-03",
        [("recurring", 1, "32.26")],
        "32.26",
        "3.23",
        "35.49",
        charges=[monthly(1, "100.00", date(2026, 1, 1), end=date(2026, 3, 10))],
        description="Managed services (1 Mar – 10 Mar 2026, pro-rata 10/31 days)",
    ),
    Case(
        "starts and ends inside one month",
        "10 Apr to 19 Apr = 10 days of 30. 300 x 10 / 30 = 100.00. GST 10.00. Total 110.00.",
        "2026-04",
        [("recurring", 1, "100.00")],
        "100.00",
        "10.00",
        "110.00",
        charges=[monthly(1, "300", date(2026, 4, 10), end=date(2026, 4, 19))],
    ),
    Case(
        "ended before the month",
        "Ended 28 Feb; March has nothing.",
        "2026-03",
        [],
        "0.00",
        "0.00",
        "0.00",
        charges=[monthly(1, "100", date(2026, 1, 1), end=date(2026, 2, 28))],
    ),
    Case(
        "quarterly, a cycle month",
        "Quarterly from Jan: cycles start Jan, Apr, Jul, Oct. April's cycle is 1 Apr - 30 Jun, whole: "
        "90 x 2 = 180.00. GST 18.00. Total 198.00.",
        "2026-04",
        [("recurring", 1, "180.00")],
        "180.00",
        "18.00",
        "198.00",
        charges=[monthly(1, "90", date(2026, 1, 1), qty="2", frequency="quarterly")],
        description="Managed services (1 Apr – 30 Jun 2026)",
    ),
    Case(
        "quarterly, between cycles",
        "May is not a cycle month for a charge effective in January (Jan + 3k): nothing.",
        "2026-05",
        [],
        "0.00",
        "0.00",
        "0.00",
        charges=[monthly(1, "90", date(2026, 1, 1), qty="2", frequency="quarterly")],
    ),
    Case(
        "quarterly, first cycle starts mid-month",
        "Nominal cycle 1 Jan - 31 Mar 2026 = 31 + 28 + 31 = 90 days; covered from 15 Jan = 17 + 28 + 31 "
        "= 76 days. 90 x 76 / 90 = 76.00. GST 7.60. Total 83.60.",
        "2026-01",
        [("recurring", 1, "76.00")],
        "76.00",
        "7.60",
        "83.60",
        charges=[monthly(1, "90", date(2026, 1, 15), frequency="quarterly")],
        description="Managed services (15 Jan – 31 Mar 2026, pro-rata 76/90 days)",
    ),
    Case(
        "quarterly, cut short by an end date",
        "Cycle 1 Apr - 30 Jun = 30 + 31 + 30 = 91 days; ends 15 May, covered 30 + 15 = 45 days. "
        "91 x 45 / 91 = 45.00. GST 4.50. Total 49.50.",
        "2026-04",
        [("recurring", 1, "45.00")],
        "45.00",
        "4.50",
        "49.50",
        charges=[monthly(1, "91", date(2026, 4, 1), end=date(2026, 5, 15), frequency="quarterly")],
    ),
    Case(
        "annual, anniversary month",
        "Annual from Jul 2025: bills every July. 1200 x 1 = 1200.00 for 1 Jul 2026 - 30 Jun 2027. "
        "GST 120.00. Total 1320.00.",
        "2026-07",
        [("recurring", 1, "1200.00")],
        "1200.00",
        "120.00",
        "1320.00",
        charges=[monthly(1, "1200", date(2025, 7, 1), frequency="annually")],
        description="Managed services (1 Jul 2026 – 30 Jun 2027)",
    ),
    Case(
        "annual, other month",
        "August is not July: nothing.",
        "2026-08",
        [],
        "0.00",
        "0.00",
        "0.00",
        charges=[monthly(1, "1200", date(2025, 7, 1), frequency="annually")],
    ),
    Case(
        "annual in arrears",
        "Invoice 2026-08 in arrears covers July 2026, the anniversary month: 1200.00. GST 120.00. "
        "Total 1320.00.",
        "2026-08",
        [("recurring", 1, "1200.00")],
        "1200.00",
        "120.00",
        "1320.00",
        mode="arrears",
        charges=[monthly(1, "1200", date(2025, 7, 1), frequency="annually")],
    ),
    Case(
        "cancelled service bills through its last day",
        "Charge 1 hangs off service 7, cancelled with last day 31 Jul: June is still owed, 999.00 in full "
        "(cancelling bills through the last day given). Charge 2 has no service: 50.00. Subtotal 1049.00. "
        "GST 104.90. Total 1153.90.",
        "2026-06",
        [("recurring", 1, "999.00"), ("recurring", 2, "50.00")],
        "1049.00",
        "104.90",
        "1153.90",
        charges=[monthly(1, "999", date(2026, 1, 1), service=7), monthly(2, "50", date(2026, 1, 1))],
        services=[service(7, status="cancelled", end=date(2026, 7, 31))],
    ),
    Case(
        "cancelled service, last day mid-month",
        "Service 7 cancelled with last day 10 Jun: 10 of 30 days of 999.00 = 333.00 (the pro-rata rule). "
        "Charge 2 has no service: 50.00. Subtotal 383.00. GST 38.30. Total 421.30.",
        "2026-06",
        [("recurring", 1, "333.00"), ("recurring", 2, "50.00")],
        "383.00",
        "38.30",
        "421.30",
        charges=[monthly(1, "999", date(2026, 1, 1), service=7), monthly(2, "50", date(2026, 1, 1))],
        services=[service(7, status="cancelled", end=date(2026, 6, 10))],
    ),
    Case(
        "cancelled service, last day before the month",
        "Service 7 cancelled with last day 31 May: nothing of June is owed, charge 1 left out. Charge 2: "
        "50.00. GST 5.00. Total 55.00.",
        "2026-06",
        [("recurring", 2, "50.00")],
        "50.00",
        "5.00",
        "55.00",
        charges=[monthly(1, "999", date(2026, 1, 1), service=7), monthly(2, "50", date(2026, 1, 1))],
        services=[service(7, status="cancelled", end=date(2026, 5, 31))],
    ),
    Case(
        "excluded service, once-off still billed",
        "Service 7 is excluded from the next invoice: its charge is left out. Once-off 20 x 1 = 20.00, "
        "not taxable. GST 0.00. Total 20.00.",
        "2026-06",
        [("once_off", 3, "20.00")],
        "20.00",
        "0.00",
        "20.00",
        charges=[monthly(1, "999", date(2026, 1, 1), service=7)],
        services=[service(7, exclude=True)],
        once_offs=[once(3, "20", "1", date(2026, 5, 3), taxable=False)],
    ),
    Case(
        "service end date inside the month cuts its charge",
        "Service ends 10 Jun: 10 days of 30. 60 x 10 / 30 = 20.00. GST 2.00. Total 22.00.",
        "2026-06",
        [("recurring", 1, "20.00")],
        "20.00",
        "2.00",
        "22.00",
        charges=[monthly(1, "60", date(2026, 1, 1), service=7)],
        services=[service(7, end=date(2026, 6, 10))],
    ),
    Case(
        "service starting after the charge's date cuts it too",
        "Service starts 21 Jun: 21..30 = 10 days of 30. 30 x 10 / 30 = 10.00. GST 1.00. Total 11.00.",
        "2026-06",
        [("recurring", 1, "10.00")],
        "10.00",
        "1.00",
        "11.00",
        charges=[monthly(1, "30", date(2026, 6, 1), service=7)],
        services=[service(7, start=date(2026, 6, 21))],
    ),
    Case(
        "once-offs: earlier and in-period billed, later waits",
        "45.50 x 2 = 91.00 (taxable, 20 Nov). 12.3456 x 3 = 37.0368 → 37.04 (not taxable, 31 Dec). "
        "1 Jan 2027 item waits. Subtotal 128.04. GST 91.00 x 0.1 = 9.10. Total 137.14.",
        "2026-12",
        [("once_off", 1, "91.00"), ("once_off", 2, "37.04")],
        "128.04",
        "9.10",
        "137.14",
        once_offs=[
            once(3, "5", "1", date(2027, 1, 1)),
            once(2, "12.3456", "3", date(2026, 12, 31), taxable=False),
            once(1, "45.50", "2", date(2026, 11, 20)),
        ],
    ),
    Case(
        "GST on mixed taxable and non-taxable lines",
        "33.33 (taxable) + 10.00 (not) + once-off 0.05 (taxable) = 43.38. Taxable 33.38 x 0.1 = 3.338 "
        "→ 3.34. Total 46.72.",
        "2026-06",
        [("recurring", 1, "33.33"), ("recurring", 2, "10.00"), ("once_off", 3, "0.05")],
        "43.38",
        "3.34",
        "46.72",
        charges=[monthly(1, "33.33", date(2026, 1, 1)), monthly(2, "10", date(2026, 1, 1), taxable=False)],
        once_offs=[once(3, "0.05", "1", date(2026, 6, 1))],
    ),
    Case(
        "GST rounded per line, as the books do",
        "Three taxable 0.15 items = 0.45. GST per line 0.015 → 0.02 each, 0.06 (per invoice it would be "
        "0.045 → 0.05; Xero rounds each line, so per line is what the books reproduce). Total 0.51.",
        "2026-06",
        [("once_off", 1, "0.15"), ("once_off", 2, "0.15"), ("once_off", 3, "0.15")],
        "0.45",
        "0.06",
        "0.51",
        once_offs=[once(i, "0.15", "1", date(2026, 6, 1)) for i in (1, 2, 3)],
    ),
    Case(
        "fractional quantity and 4-dp price",
        "19.9999 x 2.5 = 49.99975 → 50.00. GST 5.00. Total 55.00.",
        "2026-06",
        [("recurring", 1, "50.00")],
        "50.00",
        "5.00",
        "55.00",
        charges=[monthly(1, "19.9999", date(2026, 1, 1), qty="2.5")],
    ),
    Case(
        "leap February pro-rata",
        "Feb 2028 has 29 days; from 20 Feb = 10 days. 58 x 10 / 29 = 20.00. GST 2.00. Total 22.00.",
        "2028-02",
        [("recurring", 1, "20.00")],
        "20.00",
        "2.00",
        "22.00",
        charges=[monthly(1, "58", date(2028, 2, 20))],
        description="Managed services (20 Feb – 29 Feb 2028, pro-rata 10/29 days)",
    ),
    Case(
        "arrears across a year end",
        "Invoice 2027-01 in arrears covers Dec 2026 in full: 100.00. GST 10.00. Total 110.00.",
        "2027-01",
        [("recurring", 1, "100.00")],
        "100.00",
        "10.00",
        "110.00",
        mode="arrears",
        charges=[monthly(1, "100", date(2026, 1, 1))],
        description="Managed services (1 Dec – 31 Dec 2026)",
    ),
    Case(
        "half a cent rounds up",
        "Ends 15 Jun: days 1-15 of 30. 10.01 x 15 / 30 = 5.005 → 5.01 (half-up). GST 0.501 → 0.50. "
        "Total 5.51.",
        "2026-06",
        [("recurring", 1, "5.01")],
        "5.01",
        "0.50",
        "5.51",
        charges=[monthly(1, "10.01", date(2026, 1, 1), end=date(2026, 6, 15))],
    ),
    Case(
        "mid-month start keeps the month whole",
        "From 16 Jun: days 16-30 of 30. Running totals: R(10.01 x 30/30) - R(10.01 x 15/30) = "
        "10.01 - 5.01 = 5.00, so with the 5.01 for days 1-15 the month costs exactly 10.01. "
        "GST 0.50. Total 5.50.",
        "2026-06",
        [("recurring", 1, "5.00")],
        "5.00",
        "0.50",
        "5.50",
        charges=[monthly(1, "10.01", date(2026, 6, 16))],
    ),
    Case(
        "quarterly in arrears",
        "Invoice 2026-02 in arrears covers January, the first month of the Jan - Mar cycle: "
        "150 x 1 = 150.00. GST 15.00. Total 165.00.",
        "2026-02",
        [("recurring", 1, "150.00")],
        "150.00",
        "15.00",
        "165.00",
        mode="arrears",
        charges=[monthly(1, "150", date(2026, 1, 1), frequency="quarterly")],
    ),
    Case(
        "recurring lines by id, then once-offs",
        "Charge 2 (40.00) before charge 5 (pro-rata from 2 Nov: 29 of 30 days, 30 x 29 / 30 = 29.00), "
        "then the once-off 1.00. Subtotal 70.00. GST 7.00. Total 77.00.",
        "2026-11",
        [("recurring", 2, "40.00"), ("recurring", 5, "29.00"), ("once_off", 1, "1.00")],
        "70.00",
        "7.00",
        "77.00",
        charges=[monthly(5, "30", date(2026, 11, 2)), monthly(2, "40", date(2026, 1, 1))],
        once_offs=[once(1, "1", "1", date(2026, 11, 30))],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hand_worked_invoice(case: Case) -> None:
    lines = bill_lines(
        period=Period.parse(case.period),
        mode=case.mode,
        charges=case.charges,
        services=case.services,
        once_offs=case.once_offs,
    )
    assert [(line.kind, line.source_id, line.amount) for line in lines] == [
        (kind, source, Decimal(amount)) for kind, source, amount in case.lines
    ], case.working
    result = totals(lines, GST)
    assert (result.subtotal, result.tax, result.total) == (
        Decimal(case.subtotal),
        Decimal(case.tax),
        Decimal(case.total),
    ), case.working
    if case.description is not None:
        assert lines[0].description == case.description


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20
