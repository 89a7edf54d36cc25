"""Usage import: all or nothing naming every bad row, idempotent by usage id, mapped columns."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.db import session_scope
from core.usage_import import (
    KEEP,
    MappingError,
    import_usage,
    load_mapping,
    parse_mapping,
    shipped_maps,
    summary_lines,
)
from models.usage import UsageRecord
from tests.harness.billbook import ACTOR
from tests.harness.clock import FixedClock
from tests.harness.usage_book import HEADER, build

D = Decimal


def run(engine: Engine, text: str, **kw: object):  # type: ignore[no-untyped-def]
    with session_scope(engine) as db:
        return import_usage(db, io.StringIO(text), actor=ACTOR, clock=FixedClock(), **kw)  # type: ignore[arg-type]


def stored(engine: Engine) -> list[UsageRecord]:
    with Session(engine) as db:
        return list(db.exec(select(UsageRecord).order_by(UsageRecord.usage_id)).scalars())  # type: ignore[call-overload]


def count(engine: Engine) -> int:
    with Session(engine) as db:
        return int(db.execute(select(func.count()).select_from(UsageRecord)).scalar_one())


def test_rows_are_matched_by_name_id_psa_reference_or_service_reference_and_priced(engine: Engine) -> None:
    book = build(engine)
    report = run(
        engine,
        HEADER
        + "A1,Alpha Dental,,,,2026-11-03,Calls to mobiles,10,0.10,,yes\n"
        + f"A2,,{book.bravo},,,2026-11-04,Data,2.5,4.00,5.50,no\n"
        + "A3,,,AT-77,,2026-11-05,Calls to mobiles,1,0.10,,\n"
        + "A4,,,,0298765432,2026-11-06,International,3,1.00,,GST\n",
    )
    assert report.ok and (report.rows, report.added, report.already, report.changed) == (4, 4, 0, 0)
    rows = {r.usage_id: r for r in stored(engine)}
    assert (rows["A1"].customer_id, rows["A1"].unit_price, rows["A1"].price_given) == (
        book.alpha,
        D("0.13"),
        False,
    )
    assert (rows["A2"].customer_id, rows["A2"].unit_price, rows["A2"].taxable) == (
        book.bravo,
        D("5.50"),
        False,
    )
    assert rows["A3"].customer_id == book.alpha
    # Through the service: its customer, the service itself and its own 50% margin.
    assert (rows["A4"].customer_id, rows["A4"].service_id, rows["A4"].unit_price) == (
        book.alpha,
        book.voice,
        D("1.50"),
    )


def test_a_file_with_bad_rows_writes_nothing_and_names_each_row(engine: Engine) -> None:
    build(engine)
    seen: list[str] = []
    report = run(
        engine,
        HEADER
        + "B1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\n"  # row 2: fine
        + "B2,Nobody Pty Ltd,,,,2026-11-03,Calls,10,0.10,,\n"  # row 3
        + "B3,Alpha Dental,,,,2026-13-03,Calls,-1,abc,,maybe\n"  # row 4: four problems
        + ",Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n"  # row 5
        + "B1,Alpha Dental,,,,2026-11-03,Calls,11,0.10,,\n"  # row 6: B1 again, different
        + "B6,Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n",  # row 7: fine
        on_error=seen.append,
    )
    assert not report.ok and report.error_count == 4 and report.added == 0
    assert [e.split(":")[0] for e in report.errors] == ["row 3", "row 4", "row 5", "row 6"]
    assert "no customer with customer 'Nobody Pty Ltd'" in report.errors[0]
    for reason in (
        "date '2026-13-03'",
        "quantity '-1' is negative",
        "unit cost 'abc' is not a number",
        "taxable 'maybe'",
    ):
        assert reason in report.errors[1]
    assert "no usage id" in report.errors[2]
    assert "usage id B1 is also on row 2 with different values" in report.errors[3]
    assert seen == report.errors
    assert count(engine) == 0
    lines = list(summary_lines(report))
    assert lines[0].startswith("Nothing imported: 4 bad row(s) in 6")


def test_reimport_adds_nothing_and_a_changed_row_is_reported_not_applied(engine: Engine) -> None:
    build(engine)
    first = (
        HEADER
        + "C1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\nC2,Alpha Dental,,,,2026-11-04,Calls,5,0.10,,\n"
    )
    assert run(engine, first).added == 2
    again = run(engine, first)
    assert (again.ok, again.added, again.already, again.changed) == (True, 0, 2, 0)
    changed = run(
        engine,
        HEADER
        + "C1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\n"
        + "C2,Alpha Dental,,,,2026-11-04,Calls,7,0.10,,\n"
        + "C3,Alpha Dental,,,,2026-11-05,Calls,1,0.10,,\n",
    )
    assert (changed.ok, changed.added, changed.already, changed.changed) == (True, 1, 1, 1)
    assert changed.changes == ["row 3: usage id C2 differs from row 3 of an earlier import"]
    assert {r.usage_id: r.quantity for r in stored(engine)} == {"C1": D("10"), "C2": D("5"), "C3": D("1")}


def test_dry_run_checks_everything_and_writes_nothing(engine: Engine) -> None:
    build(engine)
    report = run(engine, HEADER + "D1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\n", dry_run=True)
    assert report.ok and report.added == 1 and report.dry_run
    assert count(engine) == 0
    assert "1 would be added" in next(summary_lines(report))


def test_no_price_and_no_margin_is_a_bad_row(engine: Engine) -> None:
    build(engine, margin=None)
    report = run(engine, HEADER + "E1,Bravo Legal,,,,2026-11-03,Calls,10,0.10,,\n")
    assert report.errors == [
        "row 2: no unit price, and no margin to price the cost with (set a default margin)"
    ]


def test_batches_and_errors_past_the_kept_messages_still_count(engine: Engine) -> None:
    build(engine)
    good = "".join(f"F{n},Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n" for n in range(50))
    assert (
        run(engine, HEADER + good + good, batch_size=7).added == 50
    )  # the repeat spans batches: counted, not added
    bad = "".join(f"G{n},Nobody,,,,2026-11-03,Calls,1,0.10,,\n" for n in range(KEEP + 5))
    report = run(engine, HEADER + bad, batch_size=7)
    assert report.error_count == KEEP + 5 and len(report.errors) == KEEP
    assert count(engine) == 50


def test_a_batch_with_one_taken_id_still_adds_the_rest_of_it(engine: Engine) -> None:
    """The batch is written whole first; when an id in it is taken, only that row is set aside."""
    book = build(engine)
    first = "".join(f"H{n},Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n" for n in range(6))
    assert run(engine, HEADER + first, batch_size=4).added == 6
    mixed = (
        "H9,Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n"
        + "H2,Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n"  # row 3: stored, same
        + f"H7,,{book.bravo},,,2026-11-04,Data,2,1.00,,no\n"
        + "H4,Alpha Dental,,,,2026-11-03,Calls,5,0.10,,\n"  # row 5: stored, different
        + "H8,Alpha Dental,,,,2026-11-05,Calls,1,0.10,,\n"
        + "H9,Alpha Dental,,,,2026-11-03,Calls,1,0.10,,\n"  # row 7: repeats row 2 (earlier batch)
        + "H10,Alpha Dental,,,,2026-11-06,Calls,1,0.10,,\n"
    )
    report = run(engine, HEADER + mixed, batch_size=4)
    assert (report.ok, report.rows, report.added, report.already, report.changed) == (True, 7, 4, 2, 1)
    assert report.changes == ["row 5: usage id H4 differs from row 6 of an earlier import"]
    rows = {r.usage_id: r for r in stored(engine)}
    assert sorted(rows) == sorted([f"H{n}" for n in range(6)] + ["H7", "H8", "H9", "H10"])
    assert (rows["H7"].customer_id, rows["H7"].taxable, rows["H7"].unit_price) == (
        book.bravo,
        False,
        D("1.25"),
    )
    assert rows["H4"].quantity == D("1")
    assert [rows[k].source_row for k in ("H7", "H8", "H9", "H10")] == [4, 6, 2, 8]


def test_text_and_numbers_are_stored_exactly_as_read(engine: Engine) -> None:
    """Rows go to the database as text (SQLite executemany, PostgreSQL COPY): tabs, newlines and
    backslashes in a cell, and every way of writing a number, come back as they were meant."""
    build(engine)
    odd = "tab\there, back\\slash \\N and\nnew line"
    text = (
        HEADER
        + f'"I\\1",Alpha Dental,,,,2026-11-03,"{odd}",10,"$1,234.50",,yes\n'
        + "I2,Alpha Dental,,,,2026-11-03,  padded  ,.5,0.00000000,0.0001,no\n"
        + "I3,Alpha Dental,,,,2026-11-03,Calls,99999.9999,999999.9999,12.3400,\n"
    )
    report = run(engine, text)
    assert report.ok and report.added == 3, report.errors
    rows = {r.usage_id: r for r in stored(engine)}
    assert sorted(rows) == ["I2", "I3", "I\\1"]
    first = rows["I\\1"]
    assert first.description == odd
    assert (first.quantity, first.unit_cost, first.unit_price, first.price_given) == (
        D("10"),
        D("1234.50"),
        D("1543.13"),  # 1234.50 at 25%: 1543.125, half-up
        False,
    )
    assert (rows["I2"].description, rows["I2"].quantity, rows["I2"].unit_cost, rows["I2"].unit_price) == (
        "padded",
        D("0.5"),
        D("0"),
        D("0.0001"),
    )
    assert (rows["I3"].quantity, rows["I3"].unit_cost, rows["I3"].unit_price) == (
        D("99999.9999"),
        D("999999.9999"),
        D("12.34"),
    )
    assert run(engine, text).already == 3  # read back equal to what the file says


def test_a_value_accepted_once_is_still_checked_in_every_other_row(engine: Engine) -> None:
    """Accepted cell values are remembered; a row reusing them with one bad cell is still refused."""
    build(engine, margin=None)
    good = "".join(f"J{n},Alpha Dental,,,,2026-11-03,Calls,1,0.10,0.20,yes\n" for n in range(3))
    report = run(
        engine,
        HEADER
        + good
        + "J3,Alpha Dental,,,,2026-11-03,Calls,0,0.10,0.20,yes\n"  # row 5: quantity 0
        + "J4,Alpha Dental,,,,2026-11-03,Calls,1,0.10,,yes\n"  # row 6: no price, no margin
        + "J5,Alpha Dental,,,,2026-11-03,,1,0.10,0.20,yes\n"  # row 7: no description
        + "J6,Alpha Dental,,,,2026-11-03,Calls,1,0.10,0.20\n"  # row 8: short row, taxable blank: fine
        + "J7,Alpha Dental,,,,2026-11-03,Calls,1,0.10,0.20,yes,extra\n"  # row 9: a cell too many: fine
        + "J8,Alpha Dental,,,,2026-11-03,Ca\x00lls,1,0.10,0.20,yes\n"  # row 10: NUL (PostgreSQL refuses it)
        + "J\x009,Alpha Dental,,,,2026-11-03,Calls,1,0.10,0.20,yes\n",  # row 11
    )
    assert [e.split(":")[0] for e in report.errors] == ["row 5", "row 6", "row 7", "row 10", "row 11"]
    assert "quantity is 0" in report.errors[0]
    assert "no margin" in report.errors[1]
    assert "no description" in report.errors[2]
    assert "description has a NUL character" in report.errors[3]
    assert "usage id has a NUL character" in report.errors[4]
    assert report.rows == 10 and count(engine) == 0


def test_shipped_telco_mapping_reads_the_suppliers_own_export(engine: Engine) -> None:
    book = build(engine)
    assert set(shipped_maps()) >= {"standard", "telco_cdr"}
    mapping = load_mapping("telco_cdr")
    text = (
        "Charge ID;Service Number;Call Date;Call Type;Duration (min);Wholesale ex GST;Tax Code\n"
        "9001;0298765432;03/11/2026;National call;4.5;0.02;GST\n"
        "9002;0298765432;30/11/2026;National call;1;0.02;GST Free\n"
    )
    report = run(engine, text, mapping=mapping)
    assert report.ok and report.added == 2
    rows = stored(engine)
    assert {r.source for r in rows} == {"telco"}
    assert [(r.usage_date.isoformat(), r.service_id, r.unit_price, r.taxable) for r in rows] == [
        ("2026-11-03", book.voice, D("0.03"), True),
        ("2026-11-30", book.voice, D("0.03"), False),
    ]


def test_a_header_that_does_not_fit_the_mapping_is_refused_before_any_row(engine: Engine) -> None:
    build(engine)
    with pytest.raises(MappingError) as caught:
        run(engine, "Charge ID;Call Date\n1;03/11/2026\n", mapping=load_mapping("telco_cdr"))
    assert "'Service Number'" in caught.value.user_message


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("columns = 3", "[columns] must map"),
        (
            "[columns]\nusage_id='a'\nquantity='q'\nunit_cost='c'\ndescription='d'\ndate='x'",
            "no column for the customer",
        ),
        ("[columns]\nbogus='a'", "unknown field(s) bogus"),
        ("delimiter = ';;'", "delimiter must be one character"),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_bad_mappings_are_explained(toml: str, message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(toml)
    assert message in caught.value.user_message


def test_two_imports_of_one_file_at_once_one_wins_the_other_keeps_nothing(engine: Engine) -> None:
    """PostgreSQL: the second import's insert waits on the first's unique keys, then refuses."""
    import threading

    from sqlalchemy.orm import Session as OrmSession

    from core.usage_import import ImportConflict

    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer at a time in at all; the race needs concurrent writers")
    build(engine)
    text = HEADER + "R1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\n"
    first = OrmSession(engine)
    assert import_usage(first, io.StringIO(text), actor=ACTOR, clock=FixedClock()).added == 1  # not committed
    outcome: list[object] = []

    def second() -> None:
        with OrmSession(engine) as db:
            try:
                outcome.append(import_usage(db, io.StringIO(text), actor=ACTOR, clock=FixedClock()))
            except ImportConflict as exc:
                outcome.append(exc)

    worker = threading.Thread(target=second)
    worker.start()
    with engine.connect() as probe:  # until the second import waits on the first one's row lock
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        while worker.is_alive() and not probe.exec_driver_sql(waiting).scalar_one():
            probe.rollback()
    assert worker.is_alive()
    first.commit()
    first.close()
    worker.join(timeout=10)
    [result] = outcome
    assert isinstance(result, ImportConflict) and "Import it again" in result.user_message
    assert count(engine) == 1
    again = run(engine, text)
    assert (again.added, again.already) == (0, 1)
