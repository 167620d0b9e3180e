"""Sends one short plain-text mail that is not an incident report (a self-link confirmation),
over the same SMTP settings as the reports."""

from __future__ import annotations

import ssl
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from adapters.email.report import domain_of
from gateway.clock import Clock
from gateway.config import EmailSettings
from gateway.errors import Rejected, Unavailable

_BAD_ADDRESS = (ValueError, IndexError, HeaderParseError)


async def send_plain(
    settings: EmailSettings,
    *,
    to: str,
    subject: str,
    text: str,
    clock: Clock,
    tls_context: ssl.SSLContext | None = None,
) -> str:
    """Send ``text`` to ``to``; its Message-ID.

    Raises:
        Rejected: An address the message cannot carry, or a server that refuses it for good.
        Unavailable: The server cannot be reached or answers "later".
    """
    message = EmailMessage()
    try:
        message["From"] = Address(display_name=settings.from_name, addr_spec=settings.from_address)
        message["To"] = Address(addr_spec=to)  # refuses CR and LF: no header smuggled in
    except _BAD_ADDRESS as exc:
        raise Rejected(f"email address not valid: {exc}", code="bad_address") from exc
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=domain_of(settings.from_address))
    # RFC 3834: vacation responders must not answer a machine (and Exchange's own flag).
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    message.set_content(text)
    where = f"SMTP server {settings.host}:{settings.port}"
    try:
        await aiosmtplib.send(
            message,
            sender=settings.from_address,
            recipients=[to],
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            timeout=settings.timeout_s,
            use_tls=settings.tls == "tls",
            start_tls=settings.tls == "starttls",  # never None: see EmailSender
            tls_context=tls_context,
        )
    except aiosmtplib.SMTPResponseException as exc:
        reply = f"{exc.code} {exc.message}"
        if exc.code < 500:
            raise Unavailable(f"{where} answered {reply}") from exc
        raise Rejected(f"{where} refused the message: {reply}", code=str(exc.code)) from exc
    except aiosmtplib.SMTPException as exc:
        raise Unavailable(f"{where} failed: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:  # ssl errors included
        raise Unavailable(f"{where} unreachable: {type(exc).__name__}: {exc}") from exc
    except ValueError as exc:
        raise Rejected(f"email address refused: {exc}", code="bad_address") from exc
    return str(message["Message-ID"])
