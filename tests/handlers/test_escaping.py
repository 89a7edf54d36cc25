"""Everything shown in mrkdwn is escaped: user text never pings a channel (issue 10, item 6)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from core import charges
from core.billrun import run_bill
from core.calculation import Period
from core.charge_validation import validate_recurring_charge, validate_service
from core.db import session_scope
from handlers import blocks
from models.invoices import Invoice
from tests import factories
from tests.harness.clock import FixedClock
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import pick, pushed, rows

PING = "<!channel>"
SHOWN = "&lt;!channel&gt;"


def mrkdwn_texts(node: Any) -> list[str]:
    """Every string Slack would render as mrkdwn: mrkdwn objects and top-level message texts."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" or (
            "text" in node and isinstance(node["text"], str) and "type" not in node
        ):
            found.append(node["text"])
        for value in node.values():
            found += mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            found += mrkdwn_texts(value)
    return found


def shown(fake: FakeSlack, *responses: Any) -> list[str]:
    texts = mrkdwn_texts([c.params for c in fake.calls])
    for response in responses:
        texts += mrkdwn_texts(response)
    return texts


def assert_escaped(texts: list[str], *, expect: int) -> None:
    assert not [t for t in texts if PING in t], "raw <!channel> reached mrkdwn"
    assert len([t for t in texts if SHOWN in t]) >= expect


def test_builders_escape_and_md_keeps_our_own_mentions() -> None:
    assert blocks.section(f"Cancel *{PING}*?")["text"]["text"] == f"Cancel *{SHOWN}*?"
    assert blocks.section(blocks.esc("a & b <c>"))["text"]["text"] == "a &amp; b &lt;c&gt;"  # not twice
    made = blocks.md("Created by {} for {}", blocks.mention("U0ADMIN"), PING)
    assert blocks.context(made)["elements"][0]["text"] == f"Created by <@U0ADMIN> for {SHOWN}"
    assert blocks.mention("<!here>") == "&lt;!here&gt;"


def test_echoed_arguments_and_not_found_names_are_escaped(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    unknown_status = slack.command(f"invoices {PING}").json()
    not_a_month = slack.command(f"billrun {PING}").json()
    slack.command(f"customer {PING}")  # NotFound, reported after the ack
    fake_slack.wait_for("response_url")
    slack.command(f"zz{PING}")  # an unknown subcommand, echoed in the help
    assert_escaped(shown(fake_slack, unknown_status, not_a_month), expect=3)


def test_end_charge_cancel_service_and_reissue_messages_are_escaped(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    customer = factories.customer(engine, f"{PING} Pty Ltd")
    with session_scope(engine) as db:
        service = charges.add_service(
            db=db,
            actor="U0ADMIN",
            customer_id=customer.id,
            data=validate_service(name=f"Line {PING}", start_date="2026-11-01"),
            clock=FixedClock(),
        )
        charge = charges.add_recurring_charge(
            db=db,
            actor="U0ADMIN",
            customer_id=customer.id,
            data=validate_recurring_charge(
                description=f"Seats {PING}",
                unit_price="10",
                quantity="1",
                frequency="monthly",
                effective_from="2026-11-01",
                end_date="2026-11-30",
            ),
            clock=FixedClock(),
        )
        service_id, charge_id = service.id, charge.id
    view = {"id": "V0CUSTOMER", "type": "modal", "callback_id": "customer_view", "blocks": []}
    pick(slack, view, f"svc_cancel:{service_id}")
    pick(slack, view, f"rc_end:{charge_id}")
    cancel, end = pushed(fake_slack, 1), pushed(fake_slack, 2)
    assert any(SHOWN in t for t in mrkdwn_texts(cancel)) and any(SHOWN in t for t in mrkdwn_texts(end))

    run_bill(engine=engine, period=Period.parse("2026-11"), actor="U0ADMIN", clock=FixedClock())
    [invoice] = rows(engine, Invoice)
    invoice_view = {"id": "V0INVOICE", "type": "modal", "callback_id": "invoice_view"}
    # December has nothing to bill, so reissuing a December invoice would be refused by name:
    slack.block_action("invoice_approve", value=str(invoice.id), view=invoice_view)
    slack.block_action("invoice_regenerate", value=str(invoice.id), view=invoice_view)  # refused
    assert_escaped(shown(fake_slack), expect=3)
