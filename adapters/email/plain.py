"""Sends one short plain-text mail that is not an incident report (a self-link confirmation),
over the same SMTP settings and transport as the reports."""

from __future__ import annotations

import ssl
from email.utils import make_msgid

from adapters.email.report import domain_of
from adapters.email.sender import deliver, envelope
from gateway.clock import Clock
from gateway.config import EmailSettings


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
        AuthFailed: The server refuses the login.
    """
    message = envelope(settings, to, subject, clock.now())
    message["Message-ID"] = make_msgid(domain=domain_of(settings.from_address))
    message.set_content(text)
    await deliver(settings, message, to, tls_context)
    return str(message["Message-ID"])
