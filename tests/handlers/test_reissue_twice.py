"""A second "Void and reissue" click names the replacement instead of failing (issue 10, item 9)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.harness.fake_slack import FakeSlack
from tests.harness.invoice_book import invoices, run_billrun
from tests.harness.slack_sender import SlackSender


def test_reissue_clicked_twice(
    slack: SlackSender,
    fake_slack: FakeSlack,
    engine: Engine,
    book: dict[str, int],
) -> None:
    run_billrun(slack, fake_slack)
    second = invoices(engine)[1]
    view = {"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"}
    slack.block_action("invoice_reissue", value=str(second.id), view=view)
    slack.block_action("invoice_reissue", value=str(second.id), view=view)
    told = fake_slack.wait_for("chat.postMessage")[-1].params["text"]
    assert told == ":warning: INV-00002 was already reissued as INV-00003."
    assert [(i.number, i.status) for i in invoices(engine)] == [
        ("INV-00001", "draft"),
        ("INV-00002", "void"),
        ("INV-00003", "draft"),
    ]
