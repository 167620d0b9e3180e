"""Feishu/Lark fixtures: a fake Open API and the real gateway wired to it, spoken to as Feishu.

Every request to ``/hooks/lark`` is encrypted (AES-256-CBC, key = SHA-256 of the encrypt
key) and signed (SHA-256 of timestamp + nonce + encrypt key + body) here, with the algorithm
written out again rather than taken from ``adapters.lark.crypto``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.lark.inbound import LARK, PATH
from adapters.lark.sender import LarkSender
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.domain import JSONObject
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.lark import APP_ID, APP_SECRET, FakeLark, Message
from tests.fakes.lark_ws import FakeLarkWs
from tests.support import fixture, make_settings, settings_doc

VERIFICATION_TOKEN = "lark-verification-token"
ENCRYPT_KEY = "lark-encrypt-key-0123"
TENANT = "tenant-1"
CHAT = "oc_incidents"
ALICE = "ou_alice"
BOB = "ou_bob"
STRANGER = "ou_stranger"
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DRAIN_MAX = 50  # outbox batches per drain: far more than any test needs


def encrypt(plaintext: bytes, key: str = ENCRYPT_KEY) -> str:
    """What Feishu puts in ``{"encrypt": …}``: base64(IV + AES-256-CBC(PKCS#7(plaintext)))."""
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv))
    cipher = encryptor.encryptor()
    return base64.b64encode(iv + cipher.update(padded) + cipher.finalize()).decode()


def sign(timestamp: str, nonce: str, body: bytes, key: str = ENCRYPT_KEY) -> str:
    """``X-Lark-Signature``."""
    return hashlib.sha256((timestamp + nonce + key).encode() + body).hexdigest()


def lark_section(fake: FakeLark, **overrides: Any) -> dict[str, Any]:
    """A ``[lark]`` section pointing at ``fake``."""
    return {
        "app_id": APP_ID,
        "app_secret": APP_SECRET,
        "verification_token": VERIFICATION_TOKEN,
        "encrypt_key": ENCRYPT_KEY,
        "api_base_url": fake.url,
        **overrides,
    }


def gateway_settings(tmp_path: Path, fake: FakeLark, **lark: Any) -> Settings:
    """The test settings with Lark on, the default service's cards in CHAT, alice linked."""
    doc = settings_doc()
    doc["services"]["default"]["notify"] = [{"kind": "lark", "chat": CHAT}]
    doc["members"]["alice"]["identities"].append({"platform": "lark", "user_id": ALICE})
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        lark=lark_section(fake, **lark),
        services=doc["services"],
        members=doc["members"],
    )


def card_text(message: Message) -> str:
    """Everything a card (or message) says now."""
    return message.text()


class LarkGateway:
    """The real app and an outbox drained by hand, with helpers that talk like Feishu."""

    def __init__(
        self, client: TestClient[Any, Any], fake: FakeLark, dispatcher: Dispatcher
    ) -> None:
        self.client = client
        self.fake = fake
        self.dispatcher = dispatcher
        self.clock: ManualClock = client.app[RUNTIME].clock
        self._ids = itertools.count(1)

    async def drain(self) -> None:
        """Send every delivery that is due now, and those that sending makes due."""
        for _ in range(DRAIN_MAX):
            if not await self.dispatcher.run_once():
                return
        pytest.fail("the outbox did not run dry")

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def quiet(self) -> None:
        """Until the gateway has answered every message event it accepted."""
        await self.client.app[LARK].quiet()

    def event_id(self) -> str:
        return f"ev-{next(self._ids):032d}"

    async def post(
        self,
        doc: JSONObject,
        *,
        key: str = ENCRYPT_KEY,
        timestamp: int | None = None,
        signature: str | None = None,
        encrypted: bool = True,
    ) -> ClientResponse:
        """POST ``doc`` as Feishu does: encrypted with ``key``, signed, at ``timestamp``."""
        plain = json.dumps(doc, ensure_ascii=False).encode()
        body = json.dumps({"encrypt": encrypt(plain, key)}).encode() if encrypted else plain
        ts = str(int(self.clock.now().timestamp()) if timestamp is None else timestamp)
        nonce = f"nonce-{next(self._ids)}"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Lark-Request-Timestamp": ts,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature or sign(ts, nonce, body, key),
        }
        return await self.client.post(PATH, data=body, headers=headers)

    def envelope(
        self, event_type: str, event: JSONObject, *, event_id: str | None = None, token: str = ""
    ) -> JSONObject:
        """A v2 event (or callback) as Feishu wraps it."""
        return {
            "schema": "2.0",
            "header": {
                "event_id": event_id or self.event_id(),
                "token": token or VERIFICATION_TOKEN,
                "create_time": str(int(self.clock.now().timestamp() * 1000)),
                "event_type": event_type,
                "tenant_key": TENANT,
                "app_id": APP_ID,
            },
            "event": event,
        }

    def click_doc(
        self,
        verb: str,
        number: int,
        *,
        user: str = ALICE,
        message_id: str = "om_1",
        form: dict[str, str] | None = None,
        value: Any = None,
        event_id: str | None = None,
        token: str = "",
    ) -> JSONObject:
        """A ``card.action.trigger`` callback for pressing ``verb`` on a card."""
        action: JSONObject = {
            "value": value if value is not None else {"a": f"v1:{verb}:{number}"},
            "tag": "button",
            "name": verb,
        }
        if form is not None:
            action["form_value"] = form
        event = {
            "operator": {"tenant_key": TENANT, "open_id": user, "union_id": f"on_{user}"},
            "token": "c-card-update-token",
            "action": action,
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": CHAT},
        }
        return self.envelope("card.action.trigger", event, event_id=event_id, token=token)

    async def click(
        self,
        verb: str,
        number: int,
        *,
        signature: str | None = None,
        timestamp: int | None = None,
        **kwargs: Any,
    ) -> ClientResponse:
        """Press the ``verb`` button (or submit its form) on incident ``number``'s card."""
        doc = self.click_doc(verb, number, **kwargs)
        return await self.post(doc, signature=signature, timestamp=timestamp)

    def message_doc(
        self,
        text: str,
        *,
        user: str = ALICE,
        chat_type: str = "p2p",
        mentions: list[JSONObject] | None = None,
        message_type: str = "text",
        event_id: str | None = None,
    ) -> JSONObject:
        """An ``im.message.receive_v1`` event: ``user`` wrote ``text``."""
        n = next(self._ids)
        message = {
            "message_id": f"om_in_{n}",
            "chat_id": FakeLark.p2p_chat(user) if chat_type == "p2p" else CHAT,
            "chat_type": chat_type,
            "message_type": message_type,
            "content": json.dumps({"text": text}),
            "mentions": mentions or [],
        }
        event = {
            "sender": {
                "sender_id": {"open_id": user, "union_id": f"on_{user}"},
                "sender_type": "user",
                "tenant_key": TENANT,
            },
            "message": message,
        }
        return self.envelope("im.message.receive_v1", event, event_id=event_id)

    async def say(self, text: str, **kwargs: Any) -> Message:
        """``user`` writes ``text`` to the bot; the reply it gets."""
        doc = self.message_doc(text, **kwargs)
        asked = doc["event"]["message"]["message_id"]
        self.fake.add_incoming(asked, doc["event"]["message"]["chat_id"], text)
        r = await self.post(doc)
        assert r.status == 200, await r.text()
        assert await r.json() == {}
        await self.fake.wait_for(lambda: bool(self.fake.replies(asked)))
        [reply] = self.fake.replies(asked)
        return reply


def reply_text(message: Message) -> str:
    """The plain text of a ``post`` reply, one line per paragraph."""
    [content] = message.content.values()
    return "\n".join("".join(e["text"] for e in line) for line in content["content"])


@pytest.fixture
async def lark_servers(aiohttp_server: Any) -> tuple[FakeLark, FakeLarkWs]:
    """A fake Feishu with CHAT, alice and bob (emails as configured) and a stranger, and its
    long-connection gateway on the same port."""
    fake = FakeLark()
    fake.add_chat(CHAT)
    fake.add_user(ALICE, "alice@example.com", "Alice")
    fake.add_user(BOB, "Bob@Example.com", "Bob")
    fake.add_user(STRANGER, "nobody@elsewhere.example", "Stranger")
    ws = FakeLarkWs(fake)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake, ws


@pytest.fixture
def lark(lark_servers: tuple[FakeLark, FakeLarkWs]) -> FakeLark:
    """The fake Feishu Open API (see ``lark_servers``)."""
    return lark_servers[0]


@pytest.fixture
def lark_ws(lark_servers: tuple[FakeLark, FakeLarkWs]) -> FakeLarkWs:
    """The fake long-connection gateway of ``lark``."""
    return lark_servers[1]


def build_gateway(
    settings: Settings,
) -> Callable[[Any, FakeLark], Any]:
    """A coroutine function making the LarkGateway for ``settings`` (see ``gateway``)."""

    async def make(aiohttp_client: Any, fake: FakeLark) -> AsyncIterator[LarkGateway]:
        app = create_app(settings, clock=ManualClock(NOW), workers=False)
        client = await aiohttp_client(app)
        rt = app[RUNTIME]

        async def on_posted(conn: AsyncConnection, cards: Any, now: datetime) -> bool:
            return await catch_up(conn, rt.settings, cards, now)

        async with aiohttp.ClientSession() as session:
            assert settings.lark is not None
            dispatcher = Dispatcher(
                rt.db,
                {"lark": LarkSender(settings.lark, session)},
                settings.outbox,
                rt.clock,
                rt.metrics,
                on_posted=on_posted,
            )
            yield LarkGateway(client, fake, dispatcher)

    return make


@pytest.fixture
async def gateway(
    aiohttp_client: Any, lark: FakeLark, tmp_path: Path
) -> AsyncIterator[LarkGateway]:
    """The real app with Lark pointed at the fake; the outbox is drained with ``drain()``."""
    make = build_gateway(gateway_settings(tmp_path, lark))
    async for made in make(aiohttp_client, lark):
        yield made
