"""Invoice documents: HTML, the e-mail body (HTML and plain text) and the PDF.

Templates are Jinja2, loaded from the user's override directory (REBILL_TEMPLATES_DIR) first and
the packaged `core/templates/` second, so an MSP can restyle one template without copying all.

Safety
    Autoescape is on for HTML: a customer called `<script>` is printed, not run. Plain-text
    templates (`.txt`) are not escaped, or "A & B Pty Ltd" would reach the e-mail as "A &amp; B".
    `StrictUndefined` turns a misspelt variable in a (user) template into an error instead of a
    silently blank amount on a bill. Every key the templates may use is always in the context
    (None when unset), so `{% if business.abn %}` works and only real typos fail.
    WeasyPrint is given a URL fetcher that only serves `data:` URLs and local files, so a
    template cannot make the PDF renderer fetch from the network.

Formatting
    Money goes through Babel (`format_currency(..., locale="en_AU")`); dates through Babel
    `format_date`, datetimes first converted to the billing time zone.
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import mimetypes
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from babel.dates import format_date
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from core import billing_settings
from core import invoices as invoice_service
from core.clock import DEFAULT_TIMEZONE
from core.errors import RebillError
from core.invoice_states import CREDIT_NOTE
from core.money import LOCALE, format_money, format_unit_money
from models.customers import EndCustomer
from models.invoices import Invoice, InvoiceLine
from models.system import BillingSettings

log = logging.getLogger(__name__)

PACKAGED_TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
INVOICE_TEMPLATE: Final = "invoice.html"
EMAIL_HTML_TEMPLATE: Final = "email.html"
EMAIL_TEXT_TEMPLATE: Final = "email.txt"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def environment(templates_dir: Path | str | None = None, *, timezone: str = DEFAULT_TIMEZONE) -> Environment:
    """The Jinja2 environment: user templates first (if a directory is given), packaged ones second."""
    loaders = []
    if templates_dir:
        folder = Path(templates_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"REBILL_TEMPLATES_DIR {folder} is not a directory")
        loaders.append(FileSystemLoader(str(folder)))
    loaders.append(FileSystemLoader(str(PACKAGED_TEMPLATES)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml"), disabled_extensions=("txt",), default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    tz = ZoneInfo(timezone)
    env.filters["money"] = format_money
    env.filters["unit_money"] = format_unit_money
    env.filters["quantity"] = quantity
    env.filters["day"] = lambda value, fmt="d MMM y": format_day(value, tz=tz, fmt=fmt)
    env.globals["timezone"] = timezone
    return env


def quantity(value: Decimal) -> str:
    """ "2" not "2.0000"; "2.5" stays."""
    text = format(value.normalize(), "f")
    return text


def format_day(value: date | datetime, *, tz: ZoneInfo, fmt: str = "d MMM y") -> str:
    """A calendar date as is; a moment in time as the date it was in the billing time zone."""
    if isinstance(value, datetime):
        value = value.astimezone(tz).date()
    return format_date(value, fmt, locale=LOCALE)


def period_name(period: str) -> str:
    """ "2026-12" as "December 2026", like the other dates on the invoice."""
    year, month = (int(part) for part in period.split("-"))
    return format_date(date(year, month, 1), "MMMM y", locale=LOCALE)


def invoice_context(
    *,
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    settings: BillingSettings,
    customer: EndCustomer | None,
    replaces_number: str | None = None,
    credits_number: str | None = None,
) -> dict[str, Any]:
    """Everything the templates may use, with every key present (None when unset)."""
    return {
        "business": {
            "name": settings.business_name or "",
            "abn": settings.abn,
            "address_lines": _lines(settings.business_address),
            "email": settings.business_email,
            "phone": settings.business_phone,
            "logo": logo_data_uri(settings.logo_path),
            "payment_instructions": _lines(settings.payment_instructions),
        },
        "customer": {
            "name": invoice.customer_name,
            "email": invoice.customer_email,
            "address_lines": _customer_address(customer),
        },
        "invoice": {
            "number": invoice.number,
            "status": invoice.status,
            "is_void": invoice.status == invoice_service.VOID,
            "is_paid": invoice.status == invoice_service.PAID,
            "is_draft": invoice.status == invoice_service.DRAFT,
            "period": invoice.period,
            "period_name": period_name(invoice.period),
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "payment_terms_days": invoice.payment_terms_days,
            "currency": invoice.currency,
            "subtotal": invoice.subtotal,
            "tax": invoice.tax,
            "total": invoice.total,
            "tax_rate_percent": format((invoice.tax_rate * 100).normalize(), "f"),
            "replaces_number": replaces_number,
            "is_credit_note": invoice.doc_type == CREDIT_NOTE,
            "title": document_title(invoice),
            "noun": "Credit note" if invoice.doc_type == CREDIT_NOTE else "Invoice",
            "credits_number": credits_number,
            "reason": invoice.reason,
        },
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": line.amount,
                "taxable": line.taxable,
                "period_start": line.period_start,
                "period_end": line.period_end,
            }
            for line in lines
        ],
    }


def document_title(invoice: Invoice) -> str:
    """What the document calls itself: where GST applies, an ATO "Tax invoice" or, for a credit
    note, an "Adjustment note"; otherwise plain "Invoice" or "Credit note". A draft is not a tax
    document yet: it may still change, so it says DRAFT (and carries a watermark), never "Tax invoice"."""
    gst = invoice.tax_rate != 0
    if invoice.status == invoice_service.DRAFT:
        return "DRAFT credit note" if invoice.doc_type == CREDIT_NOTE else "DRAFT invoice"
    if invoice.doc_type == CREDIT_NOTE:
        return "Adjustment note" if gst else "Credit note"
    return "Tax invoice" if gst else "Invoice"


def load_context(*, db: Session, invoice: Invoice) -> dict[str, Any]:
    """`invoice_context` for a stored invoice: its lines, the settings and the customer's address."""
    assert invoice.id is not None
    replaces = db.get(Invoice, invoice.replaces_invoice_id) if invoice.replaces_invoice_id else None
    credited = db.get(Invoice, invoice.credits_invoice_id) if invoice.credits_invoice_id else None
    return invoice_context(
        invoice=invoice,
        lines=invoice_service.lines_of(db=db, invoice_id=invoice.id),
        settings=billing_settings.load(db),
        customer=db.get(EndCustomer, invoice.customer_id),
        replaces_number=replaces.number if replaces else None,
        credits_number=credited.number if credited else None,
    )


def render(env: Environment, template: str, context: Mapping[str, Any]) -> str:
    return env.get_template(template).render(**context)


def render_invoice_html(env: Environment, context: Mapping[str, Any]) -> str:
    return render(env, INVOICE_TEMPLATE, context)


def render_email(env: Environment, context: Mapping[str, Any]) -> RenderedEmail:
    """The e-mail that carries the invoice: subject, HTML and plain-text bodies."""
    business = context["business"]["name"]
    number = context["invoice"]["number"]
    noun = context["invoice"].get("noun", "Invoice")
    subject = f"{noun} {number} from {business}" if business else f"{noun} {number}"
    return RenderedEmail(
        subject=subject,
        html=render(env, EMAIL_HTML_TEMPLATE, context),
        text=render(env, EMAIL_TEXT_TEMPLATE, context),
    )


PDF_LIBRARIES_HELP: Final = (
    "Install them and try again: on Debian/Ubuntu `sudo apt install libpango-1.0-0 libpangoft2-1.0-0 "
    "libharfbuzz-subset0 fonts-dejavu-core`, on macOS `brew install pango` (see README.md, Set-up)."
)


class PdfUnavailable(RebillError):
    """WeasyPrint is installed but the system libraries it lays text out with (Pango) are not."""


_IMPORT_LOCK = threading.Lock()
_loaded: Any = None  # the weasyprint module once its import has finished


def _weasyprint() -> Any:
    """Import WeasyPrint, turning a missing Pango into a message a person can act on.

    WeasyPrint loads Pango, HarfBuzz and fontconfig with `dlopen` at import time and raises OSError
    when one is missing (after printing its own banner to stdout, kept out of our output here).
    `redirect_stdout` swaps the process-wide `sys.stdout`: two renders on the slow pool swapping it
    at once could leave it pointing at a discarded buffer for good (all later output lost). So the
    import runs once, one thread at a time, and later calls take the finished module (not the one
    in `sys.modules`, which is there, half-built, while another thread is still importing it).
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    with _IMPORT_LOCK:
        if _loaded is None:
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    import weasyprint
            except OSError as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise PdfUnavailable(
                    f"PDF invoices can't be made: WeasyPrint needs the Pango text library, which isn't "
                    f"installed ({first}). {PDF_LIBRARIES_HELP}"
                ) from None
            _loaded = weasyprint
    return _loaded


# WeasyPrint is pure CPU under the GIL: ten renders at once (ten Send clicks) would leave the
# listener threads a tenth of the interpreter and slow every ack. Two at a time keep a core busy
# each and leave room for acks; further renders wait here, on the slow pool, not in a listener.
_RENDER_SLOTS = threading.BoundedSemaphore(2)


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """The invoice HTML as PDF bytes (WeasyPrint; only data: and file: URLs are fetched)."""
    weasyprint = _weasyprint()
    with _RENDER_SLOTS:
        pdf = weasyprint.HTML(
            string=html, base_url=base_url or str(PACKAGED_TEMPLATES), url_fetcher=_local_fetcher()
        ).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def _local_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses the network (WeasyPrint 68+ class, or older function)."""
    try:
        from weasyprint.urls import URLFetcher  # type: ignore[attr-defined]
    except ImportError:  # WeasyPrint < 68
        from weasyprint import default_url_fetcher  # type: ignore[attr-defined]

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not url.startswith(("data:", "file:")):
                raise ValueError(f"refusing to fetch {url} while rendering an invoice")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols=("data", "file"))


def invoice_pdf(*, db: Session, invoice: Invoice, env: Environment) -> bytes:
    """Render a stored invoice straight to PDF bytes (`env` carries the business time zone)."""
    return render_pdf(render_invoice_html(env, load_context(db=db, invoice=invoice)))


def logo_data_uri(path: str | None) -> str | None:
    """The logo file embedded as a data: URI (so HTML e-mail and PDF need no file access).

    A logo that can't be read is left off with a warning: a missing image must not stop billing.
    """
    if not path:
        return None
    file = Path(path).expanduser()
    mime = mimetypes.guess_type(file.name)[0]
    if mime is None or not mime.startswith("image/"):
        log.warning("logo %s is not an image file; left off the invoice", file)
        return None
    try:
        data = file.read_bytes()
    except OSError as exc:
        log.warning("logo %s can't be read (%s); left off the invoice", file, exc)
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _customer_address(customer: EndCustomer | None) -> list[str]:
    if customer is None:
        return []
    locality = " ".join(part for part in (customer.city, customer.state, customer.postcode) if part)
    parts = (customer.address_line1, customer.address_line2, locality, customer.country)
    return [part for part in parts if part]
