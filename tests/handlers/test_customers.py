"""End customers through the real HTTP endpoint, with Slack's Web API faked over HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.customers import EndCustomer
from models.system import AuditLog
from tests import factories
from tests.harness.fake_slack import FakeSlack
from tests.harness.slack_sender import SlackSender
from tests.harness.slack_views import VALID, form_values, open_new_form, texts


def all_customers(engine: Engine) -> list[EndCustomer]:
    with Session(engine) as db:
        return list(db.exec(select(EndCustomer).order_by(EndCustomer.id)).all())


# -- first-time configuration ------------------------------------------------------------------


def test_first_time_configuration_then_lands_on_the_list(slack: SlackSender, fake_slack: FakeSlack) -> None:
    prompt = slack.command("customers").json()
    assert "isn't configured" in prompt["text"]
    slack.block_action("setup_open")
    form = fake_slack.wait_for("views.open")[-1].params["view"]
    assert "⚠ Your business name" in texts(form["blocks"])

    bad = slack.view_submission(
        form,
        form_values(
            business_name="",
            default_payment_terms_days="400",
            invoice_prefix="INV 1",
            invoice_start_number="0",
        ),
    )
    assert set(bad.json()["errors"]) == {
        "business_name",
        "default_payment_terms_days",
        "invoice_prefix",
        "invoice_start_number",
    }

    ok = slack.view_submission(
        form,
        form_values(
            business_name="Acme MSP",
            default_payment_terms_days="30",
            invoice_prefix="INV-",
            invoice_start_number="1",
        ),
    )
    assert ok.status_code == 200 and ok.text == ""
    landed = fake_slack.wait_for("response_url", where=lambda c: "configured" in str(c.params.get("text")))
    assert "No end customers yet" in texts(landed[-1].params["blocks"])
    assert slack.command("customers").json()["text"] == "0 end customers"


# -- create ------------------------------------------------------------------------------------


def test_create_manually(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine)
    form = open_new_form(slack, fake_slack)
    response = slack.view_submission(form, form_values(**VALID))
    body = response.json()
    assert body["response_action"] == "update"
    assert "Acme Plumbing" in texts(body["view"]["blocks"])
    assert "default (30 days)" in texts(body["view"]["blocks"])
    [created] = all_customers(engine)
    assert created.company_name == "Acme Plumbing"
    assert created.email == "Accounts@acme.com.au"  # domain normalised by email-validator
    assert created.payment_terms_days is None and created.created_by == "U0ADMIN"
    with Session(engine) as db:
        assert db.exec(
            select(AuditLog).where(AuditLog.entity == "customer", AuditLog.action == "create")
        ).one()


def test_each_validation_error_is_shown_on_its_field(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    form = open_new_form(slack, fake_slack)
    cases = {
        "company_name": {"company_name": "   "},
        "email": {"email": "not-an-email"},
        "contact_number": {"contact_number": "call me maybe"},
        "postcode": {"postcode": "1234567890123"},
        "state": {"state": "x" * 41},
        "payment_terms_days": {"payment_terms_days": "366"},
    }
    for field, override in cases.items():
        errors = slack.view_submission(form, form_values(**(VALID | override))).json()["errors"]
        assert list(errors) == [field], (field, errors)
    assert slack.view_submission(form, form_values(**(VALID | {"company_name": "x" * 101}))).json()["errors"][
        "company_name"
    ]
    assert all_customers(engine) == []


def test_duplicate_name_names_the_existing_customer(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    factories.customer(engine, "Acme Plumbing")
    form = open_new_form(slack, fake_slack)
    errors = slack.view_submission(form, form_values(**(VALID | {"company_name": "ACME plumbing"}))).json()[
        "errors"
    ]
    assert "“Acme Plumbing”" in errors["company_name"]
    assert len(all_customers(engine)) == 1


def test_double_submission_creates_one_customer(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    form = open_new_form(slack, fake_slack)
    first = slack.view_submission(form, form_values(**VALID)).json()
    second = slack.view_submission(form, form_values(**VALID)).json()
    assert first["response_action"] == second["response_action"] == "update"
    assert len(all_customers(engine)) == 1


# -- list --------------------------------------------------------------------------------------


def test_list_filters_and_pages_across_120_customers(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    for i in range(120):
        factories.customer(engine, f"{'Acme' if i % 4 == 0 else 'Other'} {i:03d}")
    first = slack.command("customers").json()
    assert len(first["blocks"]) <= 50
    shown = texts(first["blocks"])
    assert "Acme 000" in shown and "Showing 1–20 of 120" in shown
    nav = next(b for b in first["blocks"] if b.get("block_id") == "customer_list_nav")
    next_button = next(e for e in nav["elements"] if e["action_id"] == "customers_page_next")
    slack.block_action("customers_page_next", value=next_button["value"])
    page2 = fake_slack.wait_for("response_url")[-1].params
    assert page2["replace_original"] is True
    assert "Showing 21–40 of 120" in texts(page2["blocks"])

    filtered = texts(slack.command("customers aCmE").json()["blocks"])
    assert "Showing 1–20 of 30" in filtered and "Other" not in filtered
    empty = texts(slack.command("customers zzz").json()["blocks"])
    assert "No active customer name contains" in empty


def test_empty_list_says_how_to_start(slack: SlackSender, engine: Engine) -> None:
    factories.configure(engine)
    assert "/rebill new" in texts(slack.command("customers").json()["blocks"])


def test_list_rows_show_email_marker_terms_and_default_changes(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine, terms=30)
    factories.customer(engine, "Bravo", email=None, contact_number="02 9000 0000")
    factories.customer(engine, "Alpha", payment_terms_days="14")
    shown = texts(slack.command("customers").json()["blocks"])
    assert shown.index("Alpha") < shown.index("Bravo")
    assert "terms: 14 days" in shown and "terms: default (30 days)" in shown
    assert "⚠ no e-mail: invoices can't be sent" in shown
    factories.configure(engine, terms=45)
    assert "terms: default (45 days)" in texts(slack.command("customers").json()["blocks"])


# -- view, edit, terms, e-mail, archive ---------------------------------------------------------


def open_customer(slack: SlackSender, fake: FakeSlack, customer_id: int) -> dict[str, Any]:
    slack.block_action("customer_open", value=str(customer_id))
    view = fake.wait_for("views.open")[-1].params["view"]
    view["id"] = "V0CUSTOMER"
    return view


def test_open_edit_and_audit(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine)
    customer = factories.customer(engine, "Acme Plumbing")
    view = open_customer(slack, fake_slack, customer.id)
    assert "Acme Plumbing" in texts(view["blocks"]) and "Created by <@U0ADMIN>" in texts(view["blocks"])
    shown = texts(view["blocks"])
    for section in ("*Services* (0)", "*Recurring charges* (0) · $0.00 a month", "*Once-off items* (0)"):
        assert section in shown
    assert shown.count("_none yet_") == 4

    slack.block_action("customer_edit", value=str(customer.id), view=view)
    form = fake_slack.wait_for("views.push")[-1].params["view"]
    assert form["blocks"][0]["element"]["initial_value"] == "Acme Plumbing"
    response = slack.view_submission(form, form_values(**(VALID | {"company_name": "Acme Plumbing & Gas"})))
    assert response.text == ""
    refreshed = fake_slack.wait_for("views.update")[-1].params
    assert refreshed["view_id"] == "V0CUSTOMER"
    assert refreshed["view"]["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": "Acme Plumbing & Gas",
        "emoji": True,
    }
    with Session(engine) as db:
        entry = db.exec(
            select(AuditLog).where(AuditLog.entity == "customer", AuditLog.action == "update")
        ).one()
    assert entry.actor == "U0ADMIN"
    assert entry.changes["company_name"] == ["Acme Plumbing", "Acme Plumbing & Gas"]


def test_set_and_clear_payment_terms(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine, terms=30)
    customer = factories.customer(engine, "Acme")
    view = open_customer(slack, fake_slack, customer.id)
    slack.block_action("customer_terms", value=str(customer.id), view=view)
    form = fake_slack.wait_for("views.push")[-1].params["view"]
    assert slack.view_submission(form, form_values(payment_terms_days="abc")).json()["errors"][
        "payment_terms_days"
    ]
    slack.view_submission(form, form_values(payment_terms_days="14"))
    assert "*Payment terms:* 14 days" in texts(
        fake_slack.wait_for("views.update")[-1].params["view"]["blocks"]
    )
    slack.view_submission(form, form_values(payment_terms_days=None))
    assert "*Payment terms:* default (30 days)" in texts(
        fake_slack.wait_for("views.update", 2)[-1].params["view"]["blocks"]
    )
    assert all_customers(engine)[0].payment_terms_days is None


def test_missing_email_banner_then_gone_after_add_email(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    customer = factories.customer(engine, "No Mail Co", email=None)
    view = open_customer(slack, fake_slack, customer.id)
    assert view["blocks"][0]["block_id"] == "missing_email"
    assert "invoices can't be sent" in texts(view["blocks"][:1])
    slack.block_action("customer_add_email", value=str(customer.id), view=view)
    form = fake_slack.wait_for("views.push")[-1].params["view"]
    assert slack.view_submission(form, form_values(email="nope")).json()["errors"]["email"]
    slack.view_submission(form, form_values(email="ap@nomail.example"))
    updated = fake_slack.wait_for("views.update")[-1].params["view"]
    assert updated["blocks"][0].get("block_id") != "missing_email"
    assert all_customers(engine)[0].email == "ap@nomail.example"


def test_archive_and_restore(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine)
    customer = factories.customer(engine, "Old Co")
    view = open_customer(slack, fake_slack, customer.id)
    slack.block_action("customer_archive", value=str(customer.id), view=view)
    assert "Archived" in texts(fake_slack.wait_for("views.update")[-1].params["view"]["blocks"])
    assert "Old Co" not in texts(slack.command("customers").json()["blocks"])
    assert "Old Co" in texts(slack.command("customers --all").json()["blocks"])
    slack.block_action("customer_restore", value=str(customer.id), view=view)
    fake_slack.wait_for("views.update", 2)
    assert "Old Co" in texts(slack.command("customers").json()["blocks"])
    assert all_customers(engine)[0].archived_at is None


def test_open_by_name_command(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    factories.configure(engine)
    factories.customer(engine, "Acme Plumbing")
    slack.command("customer acme")
    assert "Acme Plumbing" in texts(fake_slack.wait_for("views.open")[-1].params["view"]["blocks"])
    slack.command("customer nobody")
    assert "No end customer matches" in fake_slack.wait_for("response_url")[-1].params["text"]


# -- home, security ----------------------------------------------------------------------------


def test_app_home_dashboard(slack: SlackSender, fake_slack: FakeSlack, engine: Engine) -> None:
    slack.event({"type": "app_home_opened", "user": "U0ADMIN", "tab": "home"})
    assert "Configure rebilling" in texts(fake_slack.wait_for("views.publish")[-1].params["view"]["blocks"])
    factories.configure(engine)
    factories.customer(engine, "Has Mail")
    missing = factories.customer(engine, "Lacks Mail", email=None)
    slack.event({"type": "app_home_opened", "user": "U0ADMIN", "tab": "home"})
    home = fake_slack.wait_for("views.publish", 2)[-1].params
    assert home["user_id"] == "U0ADMIN"
    shown = texts(home["view"]["blocks"])
    assert "*2* active end customers" in shown and "*1* without an e-mail" in shown and "Lacks Mail" in shown

    home_view = home["view"] | {"id": "V0HOME"}
    slack.block_action("customer_add_email", value=str(missing.id), view=home_view)
    form = fake_slack.wait_for("views.open")[-1].params["view"]
    slack.view_submission(form, form_values(email="ap@lacks.example"))
    republished = fake_slack.wait_for("views.publish", 3)[-1].params["view"]
    assert "*0* without an e-mail" in texts(republished["blocks"])


def test_unauthorised_user_is_refused_and_nothing_is_written(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    form = open_new_form(slack, fake_slack)
    refused = slack.view_submission(form, form_values(**VALID), user_id="U0STRANGER").json()
    assert refused["response_action"] == "push"
    assert "not authorised" in texts(refused["view"]["blocks"])
    assert "not authorised" in slack.command("customers", user_id="U0STRANGER").json()["text"]
    assert all_customers(engine) == []


def test_mrkdwn_injection_is_shown_literally(
    slack: SlackSender, fake_slack: FakeSlack, engine: Engine
) -> None:
    factories.configure(engine)
    customer = factories.customer(engine, "<!channel> Acme & Co", address_line1="<@U0ADMIN> St")
    shown = texts(slack.command("customers").json()["blocks"])
    assert "&lt;!channel&gt; Acme &amp; Co" in shown and "<!channel>" not in shown
    view = open_customer(slack, fake_slack, customer.id)
    [header] = [b for b in view["blocks"] if b["type"] == "header"]
    assert header["text"] == {"type": "plain_text", "text": "<!channel> Acme & Co", "emoji": True}
    rest = texts([b for b in view["blocks"] if b["type"] != "header"])
    assert "&lt;@U0ADMIN&gt; St" in rest and "<@U0ADMIN> St" not in rest


def test_the_customer_form_reads_back_as_a_typed_value() -> None:
    from handlers.customer_views import parse_customer_form

    form = parse_customer_form({"state": {"values": form_values(company_name="Acme", psa_ref="101")}})
    assert (form.company_name, form.psa_ref, form.email) == ("Acme", "101", None)
    assert "psa_ref" not in form.customer_fields() and form.customer_fields()["company_name"] == "Acme"
