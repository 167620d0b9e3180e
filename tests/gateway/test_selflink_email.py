"""Self-linking by email: ``/link alice@example.com`` from an unlinked Telegram account mails
alice a one-time link (through a real SMTP server on loopback); opening it shows what would
be linked and changes nothing; its button links the account, once, within 30 minutes. Every
request gets the same answer, whoever's address it names, and requests are capped."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway import messages
from gateway.config import EmailSettings, Settings
from gateway.selflink import MAILS_PER_ACCOUNT, MAILS_PER_ADDRESS, mail_link, settle_mail
from gateway.web.keys import RUNTIME
from storage import repo
from tests.adapters.telegram.conftest import (
    ALICE,
    BOB,
    GROUP,
    STRANGER,
    TelegramGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.telegram import FakeTelegram

FROM = "oncall@alerts.example.com"
SENT = messages.text("link_email_sent", "en", minutes=30)
URL = re.compile(r"http://127\.0\.0\.1:8080(/link/email\?t=[A-Za-z0-9_.\-]+)")


@dataclass
class Sink:
    """An aiosmtpd handler that keeps every mail."""

    received: list[Envelope] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, _server: SMTP, _session: Session, envelope: Envelope
    ) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def mails(self) -> list[EmailMessage]:
        """Every mail received, parsed, in order."""
        found = []
        for envelope in self.received:
            parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


def free_port() -> int:
    """A port nothing listens on (Controller cannot be told port 0: it connects to check)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sink, int]]:
    """A real SMTP server on loopback that keeps what it receives."""
    # aiosmtplib names itself in EHLO by asking DNS for this machine's name: not in tests.
    monkeypatch.setattr(socket, "getfqdn", lambda _name="": "client.test")
    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, server_hostname="smtp.test")
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
async def telegram(aiohttp_server: Any) -> FakeTelegram:
    """A fake Telegram with a group, alice and bob (linked) and a stranger."""
    fake = FakeTelegram()
    fake.add_group(GROUP, "On-call")
    fake.add_user(ALICE, "Alice", username="alice_tg")
    fake.add_user(BOB, "Bob")
    fake.add_user(STRANGER, "Mallory", username="mallory")
    for extra in range(1, 8):
        fake.add_user(STRANGER + extra, f"Someone {extra}")
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


def with_email(settings: Settings, port: int) -> Settings:
    email = EmailSettings(host="127.0.0.1", port=port, tls="none", from_address=FROM, timeout_s=5.0)
    return settings.model_copy(update={"email": email})


@pytest.fixture
async def gateway(
    telegram: FakeTelegram,
    smtp: tuple[Sink, int],
    aiohttp_client: Any,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> TelegramGateway:
    """The Telegram gateway, with ``[email]`` pointed at the SMTP server."""
    settings = with_email(gateway_settings(tmp_path, telegram), smtp[1])
    return await start_gateway(aiohttp_client, telegram, http, settings)


async def ask(gateway: TelegramGateway, user: int, text: str) -> str:
    """``user`` writes ``text`` to the bot in private; its answer, once any mail has gone."""
    await gateway.say(user, user, text)
    await settle_mail()
    return gateway.replies(user)[-1]


def link_in(mail: EmailMessage) -> str:
    """The confirmation link's path and query in a mail."""
    body = mail.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    match = URL.search(body.get_content())
    assert match is not None, body.get_content()
    return match.group(1)


async def acked_by(gateway: TelegramGateway, user: int, number: int) -> str | None:
    """``user`` tries ``/ack``; who the incident says acknowledged it."""
    await gateway.say(user, user, f"/ack {number}")
    doc = await gateway.incident(number)
    return doc["acked_by"] if doc["status"] == "acknowledged" else None


async def identities(gateway: TelegramGateway) -> list[dict[str, Any]]:
    rt = gateway.client.app[RUNTIME]
    async with rt.db.read() as conn:
        return await repo.all_identities(conn)


async def test_the_mailed_link_links_the_account_once_its_button_is_pressed(
    gateway: TelegramGateway, smtp: tuple[Sink, int]
) -> None:
    sink, _port = smtp
    number, _card = await gateway.opened()
    assert await ask(gateway, STRANGER, "/link Alice@Example.com") == SENT

    [mail] = sink.mails()
    assert sink.received[0].rcpt_tos == ["alice@example.com"]
    assert mail["Subject"] == "Link your Telegram account to ackgate"
    assert mail["From"] == f"ackgate <{FROM}>"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    assert f"the Telegram account {STRANGER}" in body.get_content()
    assert "alice" in body.get_content()
    url = link_in(mail)

    # Opening the link (or a mail scanner following it) only shows what would be linked.
    before = await identities(gateway)
    for _ in range(2):
        page = await gateway.client.get(url)
        assert page.status == 200
        html = await page.text()
        assert f"Link the Telegram account {STRANGER} to the member alice?" in html
        assert 'method="post" action="/link/email"' in html
    assert await identities(gateway) == before
    assert await acked_by(gateway, STRANGER, number) is None

    token = urlsplit(url).query.removeprefix("t=")
    done = await gateway.client.post("/link/email", data={"t": token})
    assert done.status == 200
    assert "Your Telegram account is now linked to alice." in await done.text()
    assert ("telegram", "", str(STRANGER), "alice", "self") in {
        (r["platform"], r["workspace"], r["platform_user_id"], r["member"], r["origin"])
        for r in await identities(gateway)
    }
    assert await acked_by(gateway, STRANGER, number) == "alice"

    again = await gateway.client.post("/link/email", data={"t": token})
    assert again.status == 410
    assert "already used" in await again.text()


async def test_an_address_that_is_nobodys_gets_the_same_answer_and_no_mail(
    gateway: TelegramGateway, smtp: tuple[Sink, int]
) -> None:
    sink, _port = smtp
    before = await identities(gateway)
    assert await ask(gateway, STRANGER, "/link nobody@example.com") == SENT
    assert await ask(gateway, STRANGER + 1, "link <mailto:bob@example.com|bob@example.com>") == SENT
    assert [m["To"] for m in sink.mails()] == ["bob@example.com"]
    assert await identities(gateway) == before
    # In a group too: the answer says nothing about anyone.
    await gateway.say(STRANGER + 2, GROUP, "/link alice@example.com")
    await settle_mail()
    assert gateway.replies(GROUP)[-1] == SENT
    assert len(sink.mails()) == 2


async def test_a_link_expires_and_a_newer_one_replaces_it(
    gateway: TelegramGateway, smtp: tuple[Sink, int]
) -> None:
    sink, _port = smtp
    number, _card = await gateway.opened()
    await ask(gateway, STRANGER, "/link alice@example.com")
    await ask(gateway, STRANGER, "/link alice@example.com")
    first, second = (link_in(m) for m in sink.mails())

    replaced = await gateway.client.post("/link/email", data={"t": first.split("t=", 1)[1]})
    assert replaced.status == 410

    gateway.clock.advance(minutes=31)
    page = await gateway.client.get(second)
    assert page.status == 410
    assert "expired" in await page.text()
    late = await gateway.client.post("/link/email", data={"t": second.split("t=", 1)[1]})
    assert late.status == 410
    assert await acked_by(gateway, STRANGER, number) is None


async def test_a_forged_or_cut_link_is_refused(
    gateway: TelegramGateway, smtp: tuple[Sink, int]
) -> None:
    sink, _port = smtp
    await ask(gateway, STRANGER, "/link alice@example.com")
    url = link_in(sink.mails()[0])
    for bad in (url[:-3], url.replace("t=", "t=x"), "/link/email", "/link/email?t="):
        page = await gateway.client.get(bad)
        assert page.status == 400, bad
        assert "This link is not valid" in await page.text()
    forged = await gateway.client.post("/link/email", data={"t": url.split("t=", 1)[1][:-2]})
    assert forged.status == 400


async def test_requests_are_capped_per_account_and_per_address(
    gateway: TelegramGateway, smtp: tuple[Sink, int]
) -> None:
    sink, _port = smtp
    busy = messages.text("link_email_busy", "en")
    for n in range(MAILS_PER_ACCOUNT):
        address = "alice@example.com" if n == 0 else f"typo{n}@example.com"
        assert await ask(gateway, STRANGER, f"/link {address}") == SENT
    assert await ask(gateway, STRANGER, "/link alice@example.com") == busy
    assert len(sink.mails()) == 1

    # Many accounts naming one address: whether it is anyone's does not show.
    rt = gateway.client.app[RUNTIME]
    for address in ("bob@example.com", "nobody@example.com"):
        answers = [
            await mail_link(rt, "telegram", "", f"{address}-{n}", address)
            for n in range(MAILS_PER_ADDRESS + 1)
        ]
        assert answers == [SENT] * MAILS_PER_ADDRESS + [busy]
    await settle_mail()
    assert len(sink.mails()) == 1 + MAILS_PER_ADDRESS

    gateway.clock.advance(hours=1, seconds=1)
    assert await ask(gateway, STRANGER, "/link alice@example.com") == SENT


async def test_a_linked_account_is_told_so_and_nothing_is_mailed(
    gateway: TelegramGateway, smtp: tuple[Sink, int]
) -> None:
    sink, _port = smtp
    answer = await ask(gateway, ALICE, "/link bob@example.com")
    assert answer == "Your Telegram account is linked to the member alice."
    assert sink.mails() == []


async def test_a_link_without_an_address_mentions_the_email_way(
    gateway: TelegramGateway,
) -> None:
    answer = await ask(gateway, STRANGER, "/link")
    assert re.search(r"Your code is [A-Z0-9]{8} ", answer)
    assert "send link followed by your email" in answer
    assert await ask(gateway, STRANGER, "/link not-an-address") == (
        "“not-an-address” is not an email address.\nUsage: /link [email]"
    )


async def test_without_email_settings_linking_by_email_is_off(
    telegram: FakeTelegram, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    gateway = await start_gateway(
        aiohttp_client, telegram, http, gateway_settings(tmp_path, telegram)
    )
    answer = await ask(gateway, STRANGER, "/link alice@example.com")
    assert answer == messages.text("link_email_off", "en")
    assert "send link followed by your email" not in await ask(gateway, STRANGER, "/link")
