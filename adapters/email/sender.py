"""Sends incident reports by SMTP and maps the server's answers to our platform errors."""

from __future__ import annotations

import ssl
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from adapters.email.report import EmailParts, domain_of, render
from gateway.clock import Clock, SystemClock
from gateway.config import EmailSettings
from gateway.errors import AuthFailed, PlatformError, Rejected, Unavailable
from gateway.outbox import Job, SendResult

LANG = "en"
# What the standard library raises for an address it cannot parse (IndexError: a bare
# "name@" trips its parser).
_BAD_ADDRESS = (ValueError, IndexError, HeaderParseError)


class EmailSender:
    """The outbox's sender for ``channel = "email"``: one report to ``destination["to"]``.

    ``tls``: ``"tls"`` is TLS from the first byte (port 465), ``"starttls"`` upgrades a plain
    connection and fails if the server does not offer it (no silent fall back to plain text,
    which would send the password in the clear), ``"none"`` never encrypts.

    Errors: no connection, timeouts and 4xx replies are Unavailable (retried); a refused login
    is AuthFailed; a 5xx reply is Rejected with the server's reply; a server that cannot do
    what the settings ask (no STARTTLS, no AUTH) or whose certificate does not verify is
    Rejected too: every retry would fail the same way until the settings change.
    """

    channel = "email"

    def __init__(
        self,
        settings: EmailSettings,
        *,
        domain: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``domain`` names Message-IDs (default: the from address's); ``tls_context`` trusts
        a private CA instead of the system's."""
        self._settings = settings
        self._domain = domain or domain_of(settings.from_address)
        self._tls_context = tls_context
        self._clock = clock or SystemClock()

    async def send(self, job: Job) -> SendResult:
        """Send one report; raises a PlatformError subclass when the server does not take it."""
        to = job.destination.get("to")
        if not isinstance(to, str) or "@" not in to:
            raise Rejected("email destination has no address", code="no_to")
        parts = render(job.payload, job.lang, domain=self._domain, recipient=to)
        message = self._message(parts, to, job)
        await deliver(self._settings, message, to, self._tls_context)
        return SendResult(message_ref=parts.message_id)

    def _message(self, parts: EmailParts, to: str, job: Job) -> EmailMessage:
        message = envelope(self._settings, to, parts.subject, self._clock.now())
        message["Message-ID"] = parts.message_id
        message["In-Reply-To"] = parts.in_reply_to
        message["References"] = parts.references
        message["X-Ackgate-Incident"] = str(job.incident_id)
        message.set_content(parts.text)
        message.add_alternative(parts.html, subtype="html")
        return message


def envelope(settings: EmailSettings, to: str, subject: str, now: datetime) -> EmailMessage:
    """A message from the gateway to ``to``, its headers set, its content still to add;
    raises Rejected for an address it cannot carry."""
    message = EmailMessage()
    try:
        message["From"] = Address(display_name=settings.from_name, addr_spec=settings.from_address)
    except _BAD_ADDRESS as exc:
        raise Rejected(f"email.from_address is not valid: {exc}", code="bad_from") from exc
    try:
        # Refuses CR and LF too: an address cannot smuggle in a header of its own.
        message["To"] = Address(addr_spec=to)
    except _BAD_ADDRESS as exc:
        raise Rejected(f"email address {to!r} is not valid: {exc}", code="bad_to") from exc
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    # RFC 3834: vacation responders must not answer a machine (and Exchange's own flag).
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    return message


async def deliver(
    settings: EmailSettings,
    message: EmailMessage,
    to: str,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    """Hand ``message`` to the SMTP server; raises a PlatformError subclass when it does not
    take it."""
    s = settings
    try:
        await aiosmtplib.send(
            message,
            sender=s.from_address,
            recipients=[to],
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password is not None else None,
            timeout=s.timeout_s,
            use_tls=s.tls == "tls",
            # False, not None, for "none": aiosmtplib would otherwise try STARTTLS when
            # offered and fail on the self-signed certificates of internal relays.
            start_tls=s.tls == "starttls",
            tls_context=tls_context,
        )
    except aiosmtplib.SMTPException as exc:
        raise _error(settings, exc, to) from exc
    except ssl.SSLCertVerificationError as exc:
        raise _bad_certificate(_where(settings), exc) from exc
    except OSError as exc:
        where = _where(settings)
        raise Unavailable(f"{where} unreachable: {type(exc).__name__}: {exc}") from exc
    except ValueError as exc:
        # aiosmtplib refuses an address it cannot put on the wire safely.
        raise Rejected(f"email address refused: {exc}", code="bad_address") from exc


def _where(settings: EmailSettings) -> str:
    return f"SMTP server {settings.host}:{settings.port}"


def _error(settings: EmailSettings, exc: aiosmtplib.SMTPException, to: str) -> PlatformError:
    where = _where(settings)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reply = f"{exc.code} {exc.message}"
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError) and exc.code >= 500:
            return AuthFailed(f"{where} refused our login: {reply}")
        if exc.code == 530:  # "authentication required": the settings lack a login
            return AuthFailed(f"{where} wants a login: {reply}")
        if exc.code < 500:
            return Unavailable(f"{where} answered {reply}")
        if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
            return Rejected(f"{where} refused {to}: {reply}", code=str(exc.code))
        if isinstance(exc, aiosmtplib.SMTPSenderRefused):
            what = f"the sender {settings.from_address}"
            return Rejected(f"{where} refused {what}: {reply}", code=str(exc.code))
        return Rejected(f"{where} refused the message: {reply}", code=str(exc.code))
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return _bad_certificate(where, cause)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return Unavailable(f"{where} timed out: {exc}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return Unavailable(f"{where} unreachable: {exc}")
    # What is left is the server lacking what the settings ask for: STARTTLS, AUTH, UTF-8
    # addresses. Retrying cannot help until the settings (or the server) change.
    return Rejected(f"{where} cannot do what email settings ask: {exc}", code="unsupported")


def _bad_certificate(where: str, exc: ssl.SSLCertVerificationError) -> Rejected:
    return Rejected(
        f"{where} has a TLS certificate we do not trust: {exc.verify_message}", code="tls"
    )
