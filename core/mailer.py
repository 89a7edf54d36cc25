"""Outgoing e-mail over SMTP. Messages are built with the stdlib's EmailMessage, whose header
API refuses CR/LF in any header value, so header injection is impossible by construction."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Literal

from core.errors import RebillError

Security = Literal["starttls", "ssl", "none"]


class MailError(RebillError):
    """Sending failed; `temporary` says whether trying again later may work."""

    def __init__(self, user_message: str, *, temporary: bool) -> None:
        super().__init__(user_message)
        self.temporary = temporary


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    from_email: str
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_name: str | None = None
    bcc: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


def build_message(
    config: SmtpConfig,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    reply_to: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    # Assigning a header value with CR or LF raises ValueError here, whatever the caller passes.
    message["From"] = formataddr((config.from_name or "", config.from_email))
    message["To"] = to
    message["Subject"] = subject
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(localtime=False)
    domain = config.from_email.rpartition("@")[2] or "rebill-bot.local"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@{domain}>"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
        )
    return message


def send(config: SmtpConfig, message: EmailMessage) -> str:
    """Deliver `message` (plus the configured Bcc); return its Message-ID or raise MailError."""
    recipients = [message["To"]] + ([config.bcc] if config.bcc else [])
    try:
        with _connect(config) as smtp:
            smtp.send_message(message, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reason = next(iter(exc.recipients.values()))
        raise MailError(
            f"The mail server refused the recipient ({code} {_text(reason)}).", temporary=code < 500
        ) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError("The mail server rejected SMTP_USERNAME / SMTP_PASSWORD.", temporary=False) from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(
            f"The mail server said {exc.smtp_code} {_text(exc.smtp_error)}.", temporary=exc.smtp_code < 500
        ) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(
            f"The mail server does not support {config.security.upper()}; check SMTP_SECURITY.",
            temporary=False,
        ) from exc
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib reports a read timeout as a disconnect
            raise MailError(
                f"The mail server {config.host}:{config.port} did not answer in time.", temporary=True
            ) from exc
        raise MailError("The mail server closed the connection; try again.", temporary=True) from exc
    except TimeoutError as exc:
        raise MailError(
            f"The mail server {config.host}:{config.port} did not answer in time.", temporary=True
        ) from exc
    except ssl.SSLError as exc:
        raise MailError(
            f"TLS with the mail server failed ({exc.reason}); check SMTP_SECURITY.", temporary=False
        ) from exc
    except OSError as exc:
        raise MailError(
            f"Can't reach the mail server {config.host}:{config.port} ({exc.strerror or exc}).",
            temporary=True,
        ) from exc
    return str(message["Message-ID"])


def check(config: SmtpConfig) -> str:
    """Connect, secure and log in without sending: what `rebill-bot check` reports."""
    try:
        with _connect(config) as smtp:
            code, _ = smtp.noop()
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError("The mail server rejected SMTP_USERNAME / SMTP_PASSWORD.", temporary=False) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(
            f"The mail server does not support {config.security.upper()}; check SMTP_SECURITY.",
            temporary=False,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"Can't use the mail server {config.host}:{config.port} ({exc}).", temporary=True
        ) from exc
    return f"{config.host}:{config.port} ({config.security}) answered {code}"


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.security == "ssl":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    try:
        smtp.ehlo()
        if config.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if config.username:
            smtp.login(config.username, config.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
