"""`/rebill usage` and `/rebill margins` through the real endpoint, fake Slack hosting the file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.billrun import run_bill
from models.usage import UsageRecord
from tests.harness.billbook import ACTOR, DEC
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import texts
from tests.harness.usage_book import HEADER, build

GOOD = (
    HEADER
    + "S1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\nS2,Bravo Legal,,,,2026-11-03,Calls,1,0.10,0.50,\n"
)


def open_form(slack: SlackSender, fake: FakeSlack) -> dict[str, Any]:
    slack.command("usage")
    view = fake.wait_for("views.open")[-1].params["view"]
    assert view["callback_id"] == "usage_import_form"
    return view


def submit(
    slack: SlackSender,
    view: dict[str, Any],
    files: list[dict[str, Any]],
    *,
    dry_run: bool = False,
    mapping: str = "standard",
) -> Any:
    values = {
        "file": {"input": {"type": "file_input", "files": files}},
        "mapping": {"input": {"type": "static_select", "selected_option": {"value": mapping}}},
        "dry_run": {
            "input": {"type": "checkboxes", "selected_options": [{"value": "yes"}] if dry_run else []}
        },
    }
    return slack.view_submission(view | {"id": "V0IMPORT"}, values)


def records(engine: Engine) -> int:
    with Session(engine) as db:
        return int(db.execute(select(func.count()).select_from(UsageRecord)).scalar_one())


def test_upload_import_acks_first_then_reports_in_the_modal(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    build(engine)
    view = open_form(slack, fake_slack)
    block = next(b for b in view["blocks"] if b.get("block_id") == "file")
    assert block["element"]["type"] == "file_input"
    file_id = fake_slack.host_file("november.csv", GOOD.encode())
    response = submit(slack, view, [{"id": file_id, "name": "november.csv"}])
    answer = response.json()
    assert answer["response_action"] == "update" and "Importing" in texts(answer["view"]["blocks"])
    [download] = fake_slack.calls_to("download")
    assert download.headers["authorization"] == "Bearer xoxb-test-token"
    update = fake_slack.wait_for("views.update")[-1].params
    assert update["view_id"] == "V0IMPORT"
    assert "2 row(s) read: 2 added, 0 already imported" in texts(update["view"]["blocks"])
    assert records(engine) == 2


def test_bad_rows_are_listed_and_nothing_is_written(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    build(engine)
    view = open_form(slack, fake_slack)
    bad = (
        HEADER
        + "S1,Alpha Dental,,,,2026-11-03,Calls,10,0.10,,\nS2,Nobody <Pty>,,,,2026-11-03,Calls,x,0.10,,\n"
    )
    submit(slack, view, [{"id": fake_slack.host_file("bad.csv", bad.encode()), "name": "bad.csv"}])
    shown = texts(fake_slack.wait_for("views.update")[-1].params["view"]["blocks"])
    assert "Nothing imported: 1 bad row(s) in 2" in shown
    assert "row 3: quantity 'x' is not a number; no customer with customer 'Nobody &lt;Pty&gt;'" in shown
    assert records(engine) == 0


def test_no_file_is_an_inline_error_and_a_dry_run_writes_nothing(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    build(engine)
    view = open_form(slack, fake_slack)
    assert submit(slack, view, []).json() == {
        "response_action": "errors",
        "errors": {"file": "Choose a CSV file to import."},
    }
    submit(slack, view, [{"id": fake_slack.host_file("n.csv", GOOD.encode()), "name": "n.csv"}], dry_run=True)
    assert "2 would be added" in texts(fake_slack.wait_for("views.update")[-1].params["view"]["blocks"])
    assert records(engine) == 0


def test_a_file_slack_will_not_hand_over_is_reported(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    build(engine)
    view = open_form(slack, fake_slack)
    submit(slack, view, [{"id": "F404", "name": "gone.csv"}])
    update = fake_slack.wait_for("views.update")[-1].params
    assert ":x:" in texts(update["view"]["blocks"]) and "upload it again" in texts(update["view"]["blocks"])


def test_margins_command_summarises_the_month(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    build(engine, floor="30")
    run_bill(engine=engine, period=DEC, actor=ACTOR, clock=FixedClock())
    assert "Working out the margins" in slack.command("margins 2026-12").json()["text"]
    shown = texts(fake_slack.calls_to("response_url")[-1].params["blocks"])
    assert "Margins for 2026-12" in shown
    assert "Alpha Dental: $3.39 on $16.97 (24.96%)" in shown  # 3.39 over a cost of 13.58
    assert "1 below the margin floor" in shown
    assert "is not a month" in slack.command("margins dec").json()["text"]
