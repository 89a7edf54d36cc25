"""CSV import/export: a lossless round trip, and all-or-nothing imports."""

from __future__ import annotations

import csv
import io

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.customer_csv import COLUMNS, export, import_csv
from core.db import session_scope
from models.customers import EndCustomer
from tests.harness.clock import FixedClock


def book(n: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for i in range(n):
        email = "" if i % 10 == 0 else f"ap{i}@customer{i}.example"
        terms = "" if i % 3 else str(i % 60)
        psa = ("autotask", str(1000 + i)) if i % 5 == 0 else ("", "")
        writer.writerow(
            [
                f"Customer {i:04d} & Sons",
                email,
                "02 9000 0000",
                f"{i} George St",
                "",
                "Sydney",
                "NSW",
                "2000",
                "Australia",
                terms,
                *psa,
                "",
            ]
        )
    return out.getvalue()


def count(engine: Engine) -> int:
    with Session(engine) as db:
        return db.exec(select(func.count()).select_from(EndCustomer)).one()


def run_import(engine: Engine, text: str, *, dry_run: bool = False):  # type: ignore[no-untyped-def]
    with session_scope(engine) as db:
        report = import_csv(db, io.StringIO(text), actor="cli:test", clock=FixedClock(), dry_run=dry_run)
        if not report.ok:
            db.rollback()
    return report


def test_round_trip_of_1000_customers(engine: Engine) -> None:
    source = book(1000)
    report = run_import(engine, source)
    assert report.ok and len(report.created) == 1000
    with session_scope(engine) as db:
        exported = io.StringIO()
        assert export(db, exported) == 1000
    assert sorted(exported.getvalue().splitlines()) == sorted(source.replace("\r\n", "\n").splitlines())
    again = run_import(engine, exported.getvalue())
    assert again.ok and len(again.unchanged) == 1000 and not again.created and not again.updated
    assert count(engine) == 1000


def test_malformed_file_writes_nothing_and_names_the_bad_rows(engine: Engine) -> None:
    lines = book(50).splitlines()
    lines[4] = lines[4].replace("ap3@customer3.example", "not an email")
    lines[20] = "Customer 0018 & Sons"  # row 21 repeats row 20's name
    lines[31] = lines[31] + ",extra"
    report = run_import(engine, "\n".join(lines))
    assert not report.ok
    assert [number for number, _ in report.rejected] == [5, 21, 32]
    assert "email" in report.rejected[0][1]
    assert count(engine) == 0


def test_bad_header_is_malformed(engine: Engine) -> None:
    report = run_import(engine, "name,mail\nAcme,a@b.example\n")
    assert report.malformed and "company_name" in report.malformed and "mail" in report.malformed
    assert count(engine) == 0


def test_upsert_by_psa_reference_then_name_and_dry_run(engine: Engine) -> None:
    run_import(engine, book(10))
    header = ",".join(COLUMNS)
    changed = f"{header}\nRenamed In PSA,new@x.example,,,,,,,,,autotask,1000,\nCustomer 0001 & Sons,b@x.example,,,,,,,,,,,\n"
    dry = run_import(engine, changed, dry_run=True)
    assert dry.ok and len(dry.updated) == 2
    with Session(engine) as db:
        assert (
            db.exec(select(EndCustomer).where(EndCustomer.psa_ref == "1000")).one().company_name
            == "Customer 0000 & Sons"
        )
    run_import(engine, changed)
    with Session(engine) as db:
        assert (
            db.exec(select(EndCustomer).where(EndCustomer.psa_ref == "1000")).one().company_name
            == "Renamed In PSA"
        )
    assert count(engine) == 10
