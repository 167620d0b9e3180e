"""Zoom fixtures: a fake chatbot API, and the real gateway wired to it, spoken to as Zoom.

The app is ``create_app(..., workers=False)`` with the Zoom routes added (until the registry
knows Zoom), and the outbox is drained by hand with a Dispatcher holding the real
ZoomSender, so no test waits on a timer. Every request to ``/hooks/zoom`` is signed here
with Zoom's algorithm written out again, rather than taken from ``adapters.zoom.signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.zoom.inbound import PATH, ZOOM
from adapters.zoom.inbound import add_routes as add_zoom_routes
from adapters.zoom.sender import ZoomSender
from gateway.clock import ManualClock
from gateway.config import Settings, ZoomSettings
from gateway.domain import JSONObject
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.zoom import ACCOUNT_ID, BOT_JID, CLIENT_ID, CLIENT_SECRET, FakeZoom, Message
from tests.support import fixture, make_settings, settings_doc

SECRET_TOKEN = "zoom-secret-token-0123"
CHANNEL = "oncall-channel@conference.xmpp.zoom.us"
ALICE = "alice-jid@xmpp.zoom.us"
BOB = "bob-jid@xmpp.zoom.us"
STRANGER = "mallory-jid@xmpp.zoom.us"
USER_IDS = {ALICE: "alice-user-id", BOB: "bob-user-id", STRANGER: "mallory-user-id"}
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DRAIN_MAX = 50  # outbox batches per drain: far more than any test needs


def sign(body: bytes, timestamp: str, secret: str = SECRET_TOKEN) -> str:
    """``x-zm-signature``: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def zoom_section(fake: FakeZoom, **overrides: Any) -> dict[str, Any]:
    """A ``[zoom]`` section pointing at ``fake``."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "bot_jid": BOT_JID,
        "account_id": ACCOUNT_ID,
        "secret_token": SECRET_TOKEN,
        "api_base_url": fake.url,
        "oauth_url": fake.url,
        **overrides,
    }


def zoom_settings(fake: FakeZoom, **overrides: Any) -> ZoomSettings:
    """The ``[zoom]`` section alone, for the sender and API tests."""
    return ZoomSettings.model_validate(zoom_section(fake, **overrides))


def gateway_settings(tmp_path: Path, fake: FakeZoom, **zoom: Any) -> Settings:
    """The test settings with Zoom on: cards in CHANNEL, alice and bob linked."""
    doc = settings_doc()
    doc["members"]["alice"]["identities"].append({"platform": "zoom", "user_id": ALICE})
    doc["members"]["bob"]["identities"] = [{"platform": "zoom", "user_id": BOB}]
    doc["services"]["default"]["notify"] = [{"kind": "zoom", "chat": CHANNEL}]
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        zoom=zoom_section(fake, **zoom),
        members=doc["members"],
        services=doc["services"],
    )


class ZoomGateway:
    """The real app and an outbox drained by hand, with helpers that act as Zoom and people."""

    def __init__(
        self, client: TestClient[Any, Any], fake: FakeZoom, dispatcher: Dispatcher
    ) -> None:
        self.client = client
        self.fake = fake
        self.dispatcher = dispatcher
        self.clock: ManualClock = client.app[RUNTIME].clock

    async def drain(self) -> int:
        """Send every delivery that is due now, and those sending makes due; how many."""
        claimed = 0
        for _ in range(DRAIN_MAX):
            found = await self.dispatcher.run_once()
            if not found:
                return claimed
            claimed += found
        pytest.fail("the outbox did not run dry")

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def opened(self) -> tuple[int, Message]:
        """An incident opened and its card delivered to CHANNEL: its number and the card."""
        number = await self.ingest()
        await self.drain()
        [card] = self.fake.cards(CHANNEL)
        return number, card

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def quiet(self) -> None:
        """Until the gateway has sent every answer it owes."""
        await self.client.app[ZOOM].quiet()

    async def post(
        self,
        doc: JSONObject,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        secret: str = SECRET_TOKEN,
    ) -> ClientResponse:
        """POST ``doc`` to the Bot Endpoint URL as Zoom does: signed at ``timestamp``."""
        body = json.dumps(doc).encode()
        ts = str(int(self.clock.now().timestamp()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-zm-request-timestamp": ts,
            "x-zm-signature": signature or sign(body, ts, secret),
        }
        response = await self.client.post(PATH, data=body, headers=headers)
        await self.quiet()
        return response

    async def press(self, user: str, card: Message, verb: str, number: int) -> None:
        """``user`` presses the ``verb`` button of ``card``."""
        r = await self.post(self.fake.click(user, card, f"v1:{verb}:{number}"))
        assert r.status == 200, await r.text()

    async def say(self, user: str, where: str, text: str) -> str:
        """``user`` types ``text`` (after the slash command in a channel, or in a DM to the
        bot); what the bot answered."""
        before = len(self.fake.answers(where))
        r = await self.post(self.fake.command(user, where, text))
        assert r.status == 200, await r.text()
        [answer] = self.fake.answers(where)[before:]
        return answer_text(answer)


def answer_text(message: Message) -> str:
    """The text of a plain answer (one message item)."""
    [item] = message.content["body"]
    assert item["type"] == "message"
    return str(item["text"])


@pytest.fixture
async def zoom(aiohttp_server: Any) -> FakeZoom:
    """A fake Zoom with CHANNEL, alice and bob (both linked in the gateway) and a stranger."""
    fake = FakeZoom()
    fake.add_channel(CHANNEL)
    fake.add_user(ALICE, USER_IDS[ALICE], "Alice")
    fake.add_user(BOB, USER_IDS[BOB], "Bob")
    fake.add_user(STRANGER, USER_IDS[STRANGER], "Mallory")
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


async def start_gateway(
    aiohttp_client: Any, fake: FakeZoom, settings: Settings
) -> AsyncIterator[ZoomGateway]:
    """The app (with the Zoom routes) and its outbox, Zoom pointed at ``fake``."""
    assert settings.zoom is not None
    app = create_app(settings, clock=ManualClock(NOW), workers=False)
    if not any(r.canonical == PATH for r in app.router.resources()):
        add_zoom_routes(app, settings.zoom)  # until the registry knows Zoom
    client = await aiohttp_client(app)
    rt = app[RUNTIME]

    async def on_posted(conn: AsyncConnection, cards: Any, now: datetime) -> bool:
        return await catch_up(conn, rt.settings, cards, now)  # as gateway.background wires it

    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(
            rt.db,
            {"zoom": ZoomSender(settings.zoom, session, members=settings.members)},
            settings.outbox,
            rt.clock,
            rt.metrics,
            on_posted=on_posted,
        )
        yield ZoomGateway(client, fake, dispatcher)


@pytest.fixture
async def gateway(
    aiohttp_client: Any, zoom: FakeZoom, tmp_path: Path
) -> AsyncIterator[ZoomGateway]:
    """The real app with Zoom pointed at the fake; the outbox is drained with ``drain()``.

    ``zoom`` comes first: the app stops before the fake does, as it would in life.
    """
    async for made in start_gateway(aiohttp_client, zoom, gateway_settings(tmp_path, zoom)):
        yield made
