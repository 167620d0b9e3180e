"""EmailSender against a real aiosmtpd server on loopback: the mail it sends, how it threads,
and how the server's answers map to our errors; the report's rendering on its own."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from adapters.email.report import render
from adapters.email.sender import EmailSender
from gateway.clock import ManualClock
from gateway.config import EmailSettings
from gateway.domain import AlertView, Incident, Severity, Status, TimelineEntry
from gateway.errors import AuthFailed, Rejected, Unavailable
from gateway.outbox import Job
from gateway.wire import card_json

NOW = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)
STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FROM = "oncall@alerts.example.com"
TO = "alice@example.com"
# The signed page link: "&" must come out of the HTML part's href unharmed.
URL = "https://ackgate.example.com/incidents/42?t=eyJtIjoiYWxpY2UifQ.sig-abc&lang=en"
USER, PASSWORD = "ackgate", "right-password"
TLSMode = Literal["starttls", "tls", "none"]


# --- the incident and the delivery ---------------------------------------------------------


def incident_doc(**changes: Any) -> dict[str, Any]:
    """An incident exactly as the core sends it (``card_json``), changed as asked."""
    alert = AlertView(
        dedup_key="k1",
        title="HighErrorRate on checkout",
        description="Error rate above 5% for 10 minutes\nsince the 11:58 deploy",
        severity=Severity.CRITICAL,
        status="firing",
        labels={"alertname": "HighErrorRate", "pod": "checkout-7"},
        details={"runbook_url": "https://runbooks.example.com/high-error-rate"},
        starts_at=STARTED,
        ends_at=None,
        source_url="https://prometheus.example.com/graph?g0.expr=rate",
        count=3,
        last_seen=NOW,
    )
    incident = Incident(
        number=42,
        title="HighErrorRate on checkout",
        description="Checkout answers 5xx",
        severity=Severity.CRITICAL,
        status=Status.TRIGGERED,
        service="checkout",
        integration="alertmanager",
        created_at=STARTED,
        updated_at=NOW,
        assignees=("alice",),
        alert_count=7,
        labels={"alertname": "HighErrorRate", "severity": "critical", "env": "prod"},
        alerts=(alert,),
        timeline=(
            TimelineEntry(STARTED, "triggered", None, "alertmanager"),
            TimelineEntry(NOW, "commented", "bob", "slack", {"text": "rolling back"}),
        ),
    )
    return card_json(replace(incident, **changes))


def payload(incident: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    doc = incident or incident_doc()
    body: dict[str, Any] = {
        "event_id": "e1",
        "event": "incident.triggered",
        "number": doc["number"],
        "title": doc["title"],
        "severity": doc["severity"],
        "status": doc["status"],
        "url": URL,
        "thread": f"incident-{doc['number']}",
        "subject": "",
        "body_text": "Checkout answers 5xx since 12:00.",
        "incident": doc,
    }
    body.update(changes)
    return body


def job(body: dict[str, Any] | None = None, to: str = TO, delivery_id: int = 1) -> Job:
    return Job(
        delivery_id=delivery_id,
        incident_id=42,
        channel="email",
        destination={"member": "alice", "to": to},
        payload=body or payload(),
        attempt=1,
    )


# --- the SMTP server -----------------------------------------------------------------------


@dataclass
class Sink:
    """An aiosmtpd handler that keeps every mail; ``refuse`` maps an address to a reply."""

    received: list[Envelope] = field(default_factory=list)
    logins: list[bytes] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            self.logins.append(session.auth_data.login)
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def mail(self) -> EmailMessage:
        """The one mail received, parsed."""
        [envelope] = self.received
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER.encode(), PASSWORD.encode())
    # handled=False: aiosmtpd then answers 535 itself (True would leave the client waiting).
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def free_port() -> int:
    """A port nothing listens on (Controller cannot be told port 0: it connects to check)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


Server = Callable[..., tuple[Sink, int]]


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiosmtplib names itself in EHLO by asking DNS for this machine's name: not in tests."""
    monkeypatch.setattr(socket, "getfqdn", lambda _name="": "client.test")


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    """Starts aiosmtpd controllers on loopback (keyword arguments go to Controller)."""
    started: list[Controller] = []

    def start(**kwargs: Any) -> tuple[Sink, int]:
        sink = Sink()
        port = free_port()
        # A fixed server name: the default asks DNS for this machine's name.
        controller = Controller(
            sink, hostname="127.0.0.1", port=port, server_hostname="smtp.test", **kwargs
        )
        controller.start()
        started.append(controller)
        return sink, port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def server(smtp_server: Server) -> tuple[Sink, int]:
    return smtp_server()


def settings(port: int, tls: TLSMode = "none", **changes: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": tls,
        "from_address": FROM,
        "from_name": "ackgate",
        "timeout_s": 5.0,
    }
    values.update(changes)
    return EmailSettings(**values)


def sender(port: int, tls: TLSMode = "none", **kwargs: Any) -> EmailSender:
    return EmailSender(settings(port, tls), clock=ManualClock(NOW), **kwargs)


# --- what is sent --------------------------------------------------------------------------


async def test_sends_a_plain_and_an_html_part_with_our_headers(server: tuple[Sink, int]) -> None:
    sink, port = server
    result = await sender(port).send(job())

    [envelope] = sink.received
    assert envelope.mail_from == FROM
    assert envelope.rcpt_tos == [TO]
    mail = sink.mail()
    assert mail.get_content_type() == "multipart/alternative"
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert isinstance(plain, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert "HighErrorRate on checkout" in plain.get_content()
    assert "HighErrorRate on checkout" in html.get_content()
    assert mail["From"] == f"ackgate <{FROM}>"
    assert mail["To"] == TO
    assert mail["Subject"] == "[P1][#42] HighErrorRate on checkout"
    assert mail["Date"] == "Sun, 01 Mar 2026 12:10:00 +0000"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Ackgate-Incident"] == "42"
    assert "List-Id" not in mail
    assert mail["Message-ID"] == result.message_ref


async def test_plain_part_is_the_whole_report(server: tuple[Sink, int]) -> None:
    sink, port = server
    await sender(port).send(job())

    plain = sink.mail().get_body(("plain",))
    assert isinstance(plain, EmailMessage)
    text = plain.get_content()
    for line in (
        "#42 HighErrorRate on checkout",
        "Status: Triggered",
        "Checkout answers 5xx since 12:00.",
        "Service: checkout",
        "Severity: Critical (P1)",
        "Started: 2026-03-01 12:00 UTC",
        "Alerts: 7",
        "Assignees: alice",
        "Labels: env=prod",
        "Alerts (1 of 7 shown)",
        "- HighErrorRate on checkout [Firing]",
        "  Error rate above 5% for 10 minutes",
        "  since the 11:58 deploy",
        "  Runbook: https://runbooks.example.com/high-error-rate",
        "  Source: https://prometheus.example.com/graph?g0.expr=rate",
        "- 2026-03-01 12:10 UTC · Comment · bob · via slack",
        "  rolling back",
        "- 2026-03-01 12:00 UTC · Triggered · via alertmanager",
    ):
        assert line in text.splitlines(), line
    # Newest first, as on the incident page.
    assert text.index("rolling back") < text.index("Triggered · via alertmanager")


async def test_links_in_both_parts_are_the_signed_page_url(server: tuple[Sink, int]) -> None:
    sink, port = server
    await sender(port).send(job())

    mail = sink.mail()
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert isinstance(plain, EmailMessage)
    assert isinstance(html, EmailMessage)
    lines = plain.get_content().splitlines()
    assert f"Acknowledge: {URL}#ack" in lines
    assert f"Close: {URL}#close" in lines
    assert f"Open: {URL}" in lines
    links = Links.of(html.get_content())
    assert links.named("Acknowledge") == [f"{URL}#ack"]
    assert links.named("Close") == [f"{URL}#close"]
    assert links.named("Open incident") == [URL]


async def test_cjk_subject_and_sender_name_survive(server: tuple[Sink, int]) -> None:
    sink, port = server
    title = "结账服务错误率过高 — 告警"
    body = payload(incident_doc(title=title))
    await EmailSender(settings(port, from_name="值班网关"), clock=ManualClock(NOW)).send(job(body))

    mail = sink.mail()
    assert mail["Subject"] == f"[P1][#42] {title}"
    assert mail["From"] == f"值班网关 <{FROM}>"
    html = mail.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert title in html.get_content()


async def test_templated_subject_wins_and_stays_one_line(server: tuple[Sink, int]) -> None:
    sink, port = server
    await sender(port).send(job(payload(subject="Checkout down\r\nBcc: eve@example.com")))

    mail = sink.mail()
    assert mail["Subject"] == "Checkout down Bcc: eve@example.com"
    assert "Bcc" not in mail
    assert sink.received[0].rcpt_tos == [TO]


async def test_a_header_in_the_address_is_refused_before_sending(
    server: tuple[Sink, int],
) -> None:
    sink, port = server
    with pytest.raises(Rejected) as caught:
        await sender(port).send(job(to="alice@example.com\r\nBcc: eve@example.com"))

    assert caught.value.code == "bad_to"
    assert not caught.value.retryable
    assert sink.received == []


@pytest.mark.parametrize("to", ["alice@", "alice@example.com@example.org", "<alice@example.com>"])
async def test_a_malformed_address_is_rejected(server: tuple[Sink, int], to: str) -> None:
    _, port = server
    with pytest.raises(Rejected) as caught:
        await sender(port).send(job(to=to))

    assert caught.value.code == "bad_to"


async def test_no_address_is_rejected(server: tuple[Sink, int]) -> None:
    _, port = server
    with pytest.raises(Rejected) as caught:
        await sender(port).send(replace(job(), destination={"member": "alice"}))

    assert caught.value.code == "no_to"


# --- threading -----------------------------------------------------------------------------


async def test_mails_of_one_incident_share_a_thread(server: tuple[Sink, int]) -> None:
    sink, port = server
    email = sender(port)
    acked = incident_doc(status=Status.ACKNOWLEDGED, acked_by="alice", acked_at=NOW)
    first = await email.send(job(payload()))
    second = await email.send(job(payload(acked, event_id="e2", event="incident.acknowledged")))

    one, two = (message_from_bytes(e.original_content or b"", policy=policy.default)
                for e in sink.received)  # fmt: skip
    root = "<incident-42.20260301120000@alerts.example.com>"
    assert one["Message-ID"] == first.message_ref
    assert two["Message-ID"] == second.message_ref
    assert one["Message-ID"] != two["Message-ID"]
    assert one["Message-ID"].startswith("<incident-42.e1.")
    assert one["Message-ID"].endswith("@alerts.example.com>")
    for mail in (one, two):
        assert mail["In-Reply-To"] == root
        assert mail["References"] == root
    assert root not in (one["Message-ID"], two["Message-ID"])


def test_message_id_is_stable_per_event_and_recipient() -> None:
    body = payload()
    alice = render(body, domain="example.org", recipient=TO)
    assert render(body, domain="example.org", recipient=TO) == alice  # a retry: the same mail
    bob = render(body, domain="example.org", recipient="bob@example.com")
    assert bob.message_id != alice.message_id  # each has their own signed link
    assert bob.references == alice.references == "<incident-42.20260301120000@example.org>"


async def test_domain_can_be_given(server: tuple[Sink, int]) -> None:
    sink, port = server
    result = await sender(port, domain="ackgate.internal").send(job())

    assert result.message_ref is not None
    assert result.message_ref.endswith("@ackgate.internal>")
    assert sink.mail()["References"].endswith("@ackgate.internal>")


# --- the subject ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "test", "subject"),
    [
        ({"severity": Severity.CRITICAL}, False, "[P1][#42] HighErrorRate on checkout"),
        ({"severity": Severity.WARNING}, False, "[P2][#42] HighErrorRate on checkout"),
        ({"severity": Severity.INFO}, False, "[P3][#42] HighErrorRate on checkout"),
        (
            {"status": Status.CLOSED, "closed_by": "alice", "closed_at": NOW},
            False,
            "[Closed][P1][#42] HighErrorRate on checkout",
        ),
        ({}, True, "[TEST][P1][#42] HighErrorRate on checkout"),
        (
            {"status": Status.CLOSED, "severity": Severity.INFO, "closed_at": NOW},
            True,
            "[TEST][Closed][P3][#42] HighErrorRate on checkout",
        ),
    ],
)
def test_subject(changes: dict[str, Any], test: bool, subject: str) -> None:
    body = payload(incident_doc(**changes))
    if test:
        body["test"] = True
    assert render(body).subject == subject


def test_templated_subject_is_marked_as_a_test_too() -> None:
    assert render(payload(subject="Checkout down")).subject == "Checkout down"
    assert render(payload(subject="Checkout down", test=True)).subject == "[TEST] Checkout down"


def test_chinese_report() -> None:
    closed = incident_doc(status=Status.CLOSED, closed_by="alice", closed_at=NOW)
    parts = render(payload(closed), "zh")

    assert parts.subject == "[已关闭][P1][#42] HighErrorRate on checkout"
    assert "状态：已由 alice 关闭 · 2026-03-01 12:10 UTC" in parts.text.splitlines()
    assert f"打开：{URL}" in parts.text.splitlines()
    assert "认领" not in parts.text  # a closed incident offers no Acknowledge


def test_buttons_follow_the_status() -> None:
    acked = render(payload(incident_doc(status=Status.ACKNOWLEDGED, acked_by="bob")))
    closed = render(payload(incident_doc(status=Status.CLOSED)))

    assert Links.of(acked.html).named("Acknowledge") == []
    assert Links.of(acked.html).named("Close") == [f"{URL}#close"]
    assert "Status: Acknowledged by bob" in acked.text.splitlines()
    assert Links.of(closed.html).named("Close") == []
    assert Links.of(closed.html).named("Open incident") == [URL]


# --- escaping and links --------------------------------------------------------------------


def test_everything_from_the_incident_is_escaped() -> None:
    script = "<script>alert(1)</script>"
    evil = '"><img src=x onerror=alert(2)>'
    doc = incident_doc(title=f"Down {script}", labels={"team": evil, evil: "x"})
    doc["alerts"][0]["title"] = f"<b>{script}</b>"
    doc["alerts"][0]["description"] = f"line one\n{evil}"
    doc["timeline"][-1]["actor"] = script
    parts = render(payload(doc, title=doc["title"], body_text=f"summary {evil}"))

    tags = Tags.of(parts.html)
    assert not tags.names & {"script", "img", "b"}
    assert "<script>" not in parts.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in parts.html
    assert f"team={evil}" in tags.text  # shown as text, a chip like any other label
    assert f"#42 Down {script}" in tags.text
    # The plain part is not HTML: it shows the text as it is.
    assert f"#42 Down {script}" in parts.text


def test_only_http_links_are_kept() -> None:
    doc = incident_doc()
    doc["alerts"][0]["source_url"] = "javascript:alert(1)"
    doc["alerts"][0]["details"] = {"runbook_url": "data:text/html,<script>alert(1)</script>"}
    parts = render(payload(doc, url="javascript:alert(document.cookie)"))

    assert Links.of(parts.html).hrefs == []
    assert "javascript:" not in parts.text
    assert "data:" not in parts.text
    assert "Acknowledge:" not in parts.text


def test_a_title_cannot_forge_a_line_of_ours() -> None:
    title = "Disk full\nAcknowledge: https://evil.example.com/"
    parts = render(payload(incident_doc(title=title), title=title))

    assert "Acknowledge: https://evil.example.com/" not in parts.text.splitlines()
    assert parts.subject == "[P1][#42] Disk full Acknowledge: https://evil.example.com/"


# --- AUTH and the server's answers ---------------------------------------------------------


async def test_login_with_the_right_password(smtp_server: Server) -> None:
    sink, port = smtp_server(authenticator=authenticate, auth_require_tls=False)
    good = settings(port, username=USER, password=SecretStr(PASSWORD))
    await EmailSender(good).send(job())

    assert sink.logins == [USER.encode()]


async def test_wrong_password_is_auth_failed(smtp_server: Server) -> None:
    sink, port = smtp_server(authenticator=authenticate, auth_require_tls=False)
    bad = settings(port, username=USER, password=SecretStr("wrong-password"))
    with pytest.raises(AuthFailed) as caught:
        await EmailSender(bad).send(job())

    assert not caught.value.retryable
    assert "535" in str(caught.value)
    assert "wrong-password" not in str(caught.value)
    assert sink.received == []


async def test_server_down_is_unavailable() -> None:
    with pytest.raises(Unavailable) as caught:
        await sender(free_port()).send(job())

    assert caught.value.retryable
    assert "127.0.0.1" in str(caught.value)


async def test_unknown_recipient_is_rejected_with_the_servers_reply(
    server: tuple[Sink, int],
) -> None:
    sink, port = server
    sink.refuse[TO] = "550 5.1.1 User unknown"
    with pytest.raises(Rejected) as caught:
        await sender(port).send(job())

    assert not caught.value.retryable
    assert caught.value.code == "550"
    assert "550 5.1.1 User unknown" in str(caught.value)
    assert TO in str(caught.value)


async def test_a_4xx_reply_is_retried(server: tuple[Sink, int]) -> None:
    sink, port = server
    sink.refuse[TO] = "450 4.2.1 Mailbox busy, try later"
    with pytest.raises(Unavailable) as caught:
        await sender(port).send(job())

    assert "450 4.2.1 Mailbox busy, try later" in str(caught.value)


# --- TLS -----------------------------------------------------------------------------------


async def test_starttls_against_a_server_without_it_is_rejected(
    server: tuple[Sink, int],
) -> None:
    # Not retried: the settings ask for what this server cannot do, and sending in the clear
    # instead would hand the password to whoever stripped STARTTLS from the greeting.
    sink, port = server
    with pytest.raises(Rejected) as caught:
        await sender(port, "starttls").send(job())

    assert caught.value.code == "unsupported"
    assert "STARTTLS" in str(caught.value)
    assert sink.received == []


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1, and contexts for both ends."""

    cert: Path
    key: Path

    def server(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert = Certificate(folder / "cert.pem", folder / "key.pem")
    subprocess.run(  # noqa: S603 - fixed arguments
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(cert.key), "-out", str(cert.cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert


async def test_starttls(smtp_server: Server, certificate: Certificate) -> None:
    sink, port = smtp_server(tls_context=certificate.server(), require_starttls=True)
    await sender(port, "starttls", tls_context=certificate.client()).send(job())

    assert len(sink.received) == 1


async def test_implicit_tls(smtp_server: Server, certificate: Certificate) -> None:
    sink, port = smtp_server(ssl_context=certificate.server())
    await sender(port, "tls", tls_context=certificate.client()).send(job())

    assert len(sink.received) == 1


@pytest.mark.parametrize("tls", ["starttls", "tls"])
async def test_an_untrusted_certificate_is_rejected(
    smtp_server: Server, certificate: Certificate, tls: TLSMode
) -> None:
    server_tls = {"tls_context" if tls == "starttls" else "ssl_context": certificate.server()}
    sink, port = smtp_server(**server_tls)
    with pytest.raises(Rejected) as caught:
        await sender(port, tls).send(job())  # the system's CAs do not know our certificate

    assert caught.value.code == "tls"
    assert "certificate" in str(caught.value)
    assert sink.received == []


# --- reading HTML --------------------------------------------------------------------------


class Tags(HTMLParser):
    """The element names and the text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.chunks: list[str] = []

    @classmethod
    def of(cls, html: str) -> Tags:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())

    def handle_starttag(self, tag: str, _attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


class Links(HTMLParser):
    """Every ``<a href>`` of an HTML document, with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    @classmethod
    def of(cls, html: str) -> Links:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser

    @property
    def hrefs(self) -> list[str]:
        return [href for href, _ in self.found]

    def named(self, text: str) -> list[str]:
        return [href for href, label in self.found if label == text]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.found.append((self._href, " ".join("".join(self._text).split())))
            self._href = None


def test_preview_text_and_no_style_block() -> None:
    html = render(payload()).html
    assert "<style" not in html
    assert "<link" not in html
    assert "Triggered · Checkout answers 5xx since 12:00." in Tags.of(html).text


# --- end to end: a policy level pages by mail --------------------------------------------


async def test_a_level_that_pages_by_mail_sends_the_report(
    server: tuple[Sink, int], tmp_path: Path
) -> None:
    from adapters.registry import build_senders  # noqa: PLC0415
    from gateway.domain import AlertAction, AlertBatch, AlertEvent, Severity  # noqa: PLC0415
    from gateway.ingest.service import ingest  # noqa: PLC0415
    from gateway.metrics import Metrics  # noqa: PLC0415
    from gateway.outbox import Dispatcher  # noqa: PLC0415
    from tests.support import make_settings, running  # noqa: PLC0415

    sink, port = server
    level = {"targets": ["alice"], "channels": ["email"]}
    config = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        services={"default": {"escalation": {"levels": [level]}}},
        email={"host": "127.0.0.1", "port": port, "tls": "none", "from_address": FROM},
    )
    async with running(config, ManualClock(NOW)) as rt, aiohttp.ClientSession() as http:
        event = AlertEvent("k", AlertAction.TRIGGER, "Disk <full> on db-1", Severity.CRITICAL)
        number = (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]
        senders = build_senders(config, http)
        dispatcher = Dispatcher(rt.db, senders, config.outbox, rt.clock, Metrics())
        while await dispatcher.run_once():
            pass
    mail = sink.mail()
    assert mail["To"] == "alice@example.com"
    assert mail["Subject"] == f"[P1][#{number}] Disk <full> on db-1"
    html = mail.get_body(("html",))
    assert html is not None
    assert "Disk &lt;full&gt; on db-1" in html.get_content()
    text = mail.get_body(("plain",))
    assert text is not None
    assert f"/incidents/{number}?t=" in text.get_content()  # signed for alice: no login


async def test_send_test_mails_a_marked_report(server: tuple[Sink, int], tmp_path: Path) -> None:
    from gateway.sendtest import send_test  # noqa: PLC0415
    from tests.support import make_settings  # noqa: PLC0415

    sink, port = server
    config = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        email={"host": "127.0.0.1", "port": port, "tls": "none", "from_address": FROM},
    )
    line = await send_test(config, "email:alice")
    assert line.startswith("OK email:alice (email) in ")
    mail = sink.mail()
    assert mail["Subject"].startswith("[TEST]")
    assert mail["To"] == "alice@example.com"
