"""Invoice HTML, e-mail and PDF: escaped, strict about variables, overridable, a real PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from jinja2 import UndefinedError
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import invoices, rendering
from core.db import session_scope
from tests.harness.billbook import ACTOR
from tests.harness.clock import FixedClock


def context_of(engine: Engine, number: str) -> dict:  # type: ignore[type-arg]
    with Session(engine) as db:
        return rendering.load_context(db=db, invoice=invoices.find(db=db, ref=number))


def test_invoice_html_has_the_header_lines_and_totals_and_escapes_names(billed: Engine) -> None:
    html = rendering.render_invoice_html(rendering.environment(), context_of(billed, "INV-00005"))
    assert "Golf &amp; Sons &lt;Pty&gt;" in html and "<Pty>" not in html
    for text in (
        "Acme MSP Pty Ltd",
        "ABN 12 345 678 901",
        "1 Example St",
        "INV-00005",
        "1 Dec 2026",
        "15 Dec 2026",
        "$120.00",
        "$12.00",
        "$132.00",
        "BSB 062-000",
        "data:image/png;base64,",
    ):
        assert text in html
    assert "VOID" not in html


def test_email_bodies_are_short_and_plain_text_is_not_html_escaped(billed: Engine) -> None:
    email = rendering.render_email(rendering.environment(), context_of(billed, "INV-00005"))
    assert email.subject == "Invoice INV-00005 from Acme MSP Pty Ltd"
    assert "Golf &amp; Sons &lt;Pty&gt;" in email.html
    assert "Hello Golf & Sons <Pty>," in email.text
    assert "Amount due: $132.00" in email.text and "Due date: 15 Dec 2026" in email.text
    assert "BSB 062-000" in email.text


def test_pdf_is_valid_and_shows_the_number_and_total(billed: Engine) -> None:
    with Session(billed) as db:
        pdf = rendering.invoice_pdf(
            db=db, invoice=invoices.find(db=db, ref="INV-00002"), env=rendering.environment()
        )
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "INV-00002" in text and "$281.00" in text and "Bravo Legal" in text


def test_void_invoice_carries_a_watermark(billed: Engine) -> None:
    with session_scope(billed) as db:
        invoices.void(db=db, ref="INV-00001", actor=ACTOR, clock=FixedClock())
    html = rendering.render_invoice_html(rendering.environment(), context_of(billed, "INV-00001"))
    assert 'class="watermark">VOID<' in html


def test_strict_undefined_catches_a_missing_variable(tmp_path: Path, billed: Engine) -> None:
    (tmp_path / "invoice.html").write_text("<p>{{ invoice.numbr }}</p>")
    with pytest.raises(UndefinedError, match="numbr"):
        rendering.render_invoice_html(rendering.environment(tmp_path), context_of(billed, "INV-00001"))


def test_templates_dir_override_wins_and_falls_back_to_packaged(tmp_path: Path, billed: Engine) -> None:
    (tmp_path / "email.txt").write_text(
        "Custom: {{ invoice.number }} {{ invoice.total | money(invoice.currency) }}\n"
    )
    env = rendering.environment(tmp_path)
    email = rendering.render_email(env, context_of(billed, "INV-00001"))
    assert email.text == "Custom: INV-00001 $220.00\n"
    assert "Please find attached invoice" in email.html  # not overridden: the packaged one
    with pytest.raises(FileNotFoundError, match="REBILL_TEMPLATES_DIR"):
        rendering.environment(tmp_path / "missing")


def test_settings_accept_a_templates_dir(tmp_path: Path) -> None:
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-x",
        slack_signing_secret="s",
        rebill_admins="U0ADMIN",
        rebill_templates_dir=str(tmp_path),
    )
    assert settings.rebill_templates_dir == tmp_path


def test_missing_logo_file_is_left_off(tmp_path: Path) -> None:
    assert rendering.logo_data_uri(str(tmp_path / "gone.png")) is None
    assert rendering.logo_data_uri(None) is None


def pdf_text(engine: Engine, number: str) -> str:
    with Session(engine) as db:
        pdf = rendering.invoice_pdf(
            db=db, invoice=invoices.find(db=db, ref=number), env=rendering.environment()
        )
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_only_a_draft_says_draft_and_a_draft_never_says_tax_invoice(billed: Engine) -> None:
    with session_scope(billed) as db:
        assert invoices.find(db=db, ref="INV-00001").status == "draft"
        invoices.approve(db=db, ref="INV-00002", actor=ACTOR, clock=FixedClock())
    draft, approved = pdf_text(billed, "INV-00001"), pdf_text(billed, "INV-00002")
    assert "DRAFT" in draft and "Tax invoice" not in draft
    assert "Tax invoice" in approved and "DRAFT" not in approved
    html = rendering.render_invoice_html(rendering.environment(), context_of(billed, "INV-00001"))
    assert "<title>DRAFT invoice INV-00001</title>" in html and 'class="watermark">DRAFT<' in html


def test_billing_period_reads_as_a_month_and_the_number_is_quoted_once(billed: Engine) -> None:
    html = rendering.render_invoice_html(rendering.environment(), context_of(billed, "INV-00002"))
    assert "<td>December 2026</td>" in html and "2026-12" not in html
    assert html.lower().count("quote") == 1
    assert rendering.period_name("2027-01") == "January 2027"


def test_renders_on_many_threads_leave_stdout_as_it_was() -> None:
    """The Pango check hides WeasyPrint's banner by swapping sys.stdout during the import; threads
    doing that at once (ten Sends rendering PDFs) once left the server's stdout swallowed for good."""
    import sys
    import threading

    from core import rendering

    before = sys.stdout
    start = threading.Barrier(16)

    def render_many() -> None:
        start.wait()
        for _ in range(200):
            rendering._weasyprint()

    threads = [threading.Thread(target=render_many) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sys.stdout is before
