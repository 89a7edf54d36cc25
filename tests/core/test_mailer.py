"""Mail goes to a real local SMTP server; failures come back as clear, classified errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.mailer import Attachment, MailError, SmtpConfig, build_message, check, send
from tests.harness.smtp import SilentServer, SmtpServer, free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def config(port: int, **kw: object) -> SmtpConfig:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "from_email": "billing@msp.example"}
    return SmtpConfig(**(values | {"security": "none", "timeout": 2} | kw))  # type: ignore[arg-type]


def test_message_is_delivered_with_bodies_attachment_and_bcc(smtp: SmtpServer) -> None:
    cfg = config(smtp.port, from_name="Acme MSP", bcc="archive@msp.example")
    message = build_message(
        cfg,
        to="ap@customer.example",
        subject="Invoice INV-00001",
        text="Plain body",
        html="<p>HTML body</p>",
        attachments=(Attachment("INV-00001.pdf", b"%PDF-1.7 test"),),
    )
    message_id = send(cfg, message)
    [got] = smtp.received
    assert got.envelope_to == ["ap@customer.example", "archive@msp.example"]
    assert got.message["Message-ID"] == message_id and message_id.endswith("@msp.example>")
    assert got.message["From"] == "Acme MSP <billing@msp.example>" and "Bcc" not in got.message
    assert got.message.get_body(("plain",)).get_content().strip() == "Plain body"
    assert "<p>HTML body</p>" in got.message.get_body(("html",)).get_content()
    [pdf] = list(got.message.iter_attachments())
    assert pdf.get_filename() == "INV-00001.pdf" and pdf.get_content() == b"%PDF-1.7 test"


@pytest.mark.parametrize("field", ["to", "subject"])
def test_cr_lf_in_a_header_is_impossible(field: str) -> None:
    values = {"to": "ap@customer.example", "subject": "Invoice"}
    values[field] += "\r\nBcc: victim@example.com"
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        build_message(config(25), text="x", **values)  # type: ignore[arg-type]


def test_refused_recipient_is_permanent(smtp: SmtpServer) -> None:
    smtp.sink.refuse_rcpt = "550 5.1.1 No such user"
    with pytest.raises(MailError) as caught:
        send(
            config(smtp.port),
            build_message(config(smtp.port), to="x@customer.example", subject="s", text="t"),
        )
    assert not caught.value.temporary and "550" in caught.value.user_message and smtp.received == []


def test_4xx_is_temporary(smtp: SmtpServer) -> None:
    smtp.sink.refuse_data = "451 4.3.0 Try again later"
    with pytest.raises(MailError) as caught:
        send(
            config(smtp.port),
            build_message(config(smtp.port), to="x@customer.example", subject="s", text="t"),
        )
    assert caught.value.temporary and "451" in caught.value.user_message


def test_server_down_and_timeout_are_temporary() -> None:
    down = config(free_port())
    with pytest.raises(MailError, match="Can't reach the mail server") as caught:
        send(down, build_message(down, to="x@customer.example", subject="s", text="t"))
    assert caught.value.temporary
    silent = SilentServer()
    try:
        slow = config(silent.port, timeout=0.3)
        with pytest.raises(MailError, match="did not answer in time"):
            send(slow, build_message(slow, to="x@customer.example", subject="s", text="t"))
    finally:
        silent.stop()


def test_check_reports_a_working_server_and_a_missing_starttls(smtp: SmtpServer) -> None:
    assert "answered 250" in check(config(smtp.port))
    with pytest.raises(MailError, match="does not support STARTTLS"):
        check(
            SmtpConfig(
                host="127.0.0.1", port=smtp.port, from_email="b@msp.example", security="starttls", timeout=2
            )
        )
