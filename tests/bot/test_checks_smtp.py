"""SMTP settings (optional, validated, named in errors) and the smtp line of `rebill-bot check`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.checks import check_smtp, run_checks
from bot.settings import ConfigError, Settings, load_settings, load_smtp_settings
from tests.conftest import ADMIN, BOT_TOKEN, SIGNING_SECRET, make_settings
from tests.harness.fake_slack import FakeSlack
from tests.harness.smtp import SmtpServer, free_port


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def settings(**smtp: Any) -> Settings:
    return load_settings(
        _env_file=None,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        rebill_admins=ADMIN,
        **smtp,
    )


def test_mail_is_optional() -> None:
    loaded = settings()
    assert loaded.smtp_host is None and loaded.smtp is None
    line = check_smtp(loaded)
    assert (line.name, line.ok) == ("smtp", True)
    assert line.detail == "e-mail not configured (SMTP_HOST unset): invoices can't be sent"


def test_smtp_config_from_settings() -> None:
    loaded = settings(
        smtp_host="smtp.example.com",
        smtp_username="billing",
        smtp_password="hunter2",
        rebill_from_email="Billing@MSP.example",
        rebill_bcc_email="archive@msp.example",
        smtp_timeout="12.5",
    )
    config = loaded.smtp
    assert config is not None
    assert (config.host, config.port, config.security, config.timeout) == (
        "smtp.example.com",
        587,
        "starttls",
        12.5,
    )
    assert (config.username, config.password, config.bcc) == ("billing", "hunter2", "archive@msp.example")
    assert config.from_email == "Billing@msp.example"  # the domain normalised, the local part kept
    assert "hunter2" not in repr(loaded) and "hunter2" not in repr(config)
    # Implicit TLS means 465 unless a port is given.
    assert load_smtp_settings(
        _env_file=None, smtp_host="h", rebill_from_email="a@b.example", smtp_security="SSL"
    ).smtp == type(config)(host="h", port=465, from_email="a@b.example", security="ssl")
    explicit = load_smtp_settings(
        _env_file=None, smtp_host="h", rebill_from_email="a@b.example", smtp_security="ssl", smtp_port="2465"
    ).smtp
    assert explicit is not None and explicit.port == 2465


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"smtp_host": "smtp.example.com"}, "REBILL_FROM_EMAIL must be set when SMTP_HOST is set"),
        (
            {"smtp_host": "smtp.example.com", "rebill_from_email": "billing"},
            "REBILL_FROM_EMAIL is not a valid",
        ),
        ({"rebill_bcc_email": "archive at msp"}, "REBILL_BCC_EMAIL is not a valid e-mail address"),
        ({"smtp_security": "tls"}, "SMTP_SECURITY Input should be 'starttls', 'ssl' or 'none'"),
        ({"smtp_port": "0"}, "SMTP_PORT"),
    ],
)
def test_bad_mail_settings_are_named(values: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**values)
    assert says in str(caught.value)
    name = says.split()[0]
    assert f"{name} " in str(caught.value) and ": set it to " in str(caught.value)


def test_blank_host_means_not_configured() -> None:
    assert settings(smtp_host="", rebill_from_email="").smtp is None


def test_check_talks_to_the_server(smtp: SmtpServer) -> None:
    configured = settings(
        smtp_host="127.0.0.1",
        smtp_port=str(smtp.port),
        smtp_security="none",
        rebill_from_email="b@msp.example",
    )
    line = check_smtp(configured)
    assert line.ok, line.detail
    assert line.detail == f"127.0.0.1:{smtp.port} (none) answered 250; sending as b@msp.example"
    assert smtp.received == []  # a check sends nothing

    down = settings(
        smtp_host="127.0.0.1",
        smtp_port=str(free_port()),
        smtp_security="none",
        rebill_from_email="b@msp.example",
    )
    failed = check_smtp(down)
    assert not failed.ok and failed.detail.startswith(f"Can't use the mail server 127.0.0.1:{down.smtp_port}")


def test_run_checks_has_an_smtp_line(engine: Engine, fake_slack: FakeSlack, db_url: str) -> None:
    results = run_checks(make_settings(fake_slack, db_url))
    assert {r.name: r for r in results}["smtp"].ok
