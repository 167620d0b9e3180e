"""Telegram fixtures: a fake Bot API, and the real gateway wired to it, spoken to as Telegram.

The app is ``create_app(..., workers=False)`` with the Telegram routes added, and the outbox
is driven by hand (``deliver``) with a Dispatcher holding the real TelegramSender, so no test
waits on a timer. Every webhook request carries the secret token, as Telegram sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.telegram.sender import TelegramSender
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.domain import JSONObject
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.telegram import TOKEN, FakeTelegram, Message
from tests.support import fixture, make_settings, settings_doc

SECRET = "telegram-webhook-secret_1"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HOOK = "/hooks/telegram"
GROUP = -1001234567890
ALICE = 111
BOB = 222
STRANGER = 999
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
WAIT_S = 10
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def telegram_section(fake: FakeTelegram, **overrides: Any) -> dict[str, Any]:
    """A ``[telegram]`` section pointing at ``fake``."""
    return {
        "bot_token": TOKEN,
        "api_base_url": fake.url,
        "webhook_secret": SECRET,
        **overrides,
    }


def gateway_settings(
    tmp_path: Path, fake: FakeTelegram, server: dict[str, Any] | None = None, **telegram: Any
) -> Settings:
    """The test settings with Telegram on: cards in GROUP, alice and bob linked."""
    doc = settings_doc()
    doc["members"]["alice"]["identities"].append({"platform": "telegram", "user_id": str(ALICE)})
    doc["members"]["bob"]["identities"] = [{"platform": "telegram", "user_id": str(BOB)}]
    doc["services"]["default"]["notify"] = [{"kind": "telegram", "chat": str(GROUP)}]
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        telegram=telegram_section(fake, **telegram),
        members=doc["members"],
        services=doc["services"],
        server={**doc["server"], **(server or {})},
        outbox={"poll_interval_s": 0.05, "base_delay_s": 0.01, "max_delay_s": 0.05},
    )


class TelegramGateway:
    """The real app and its outbox, with helpers that act the way Telegram and people do."""

    def __init__(
        self,
        client: TestClient[Any, Any],
        fake: FakeTelegram,
        dispatcher: Dispatcher,
        clock: ManualClock,
    ) -> None:
        self.client = client
        self.fake = fake
        self.dispatcher = dispatcher
        self.clock = clock

    async def deliver(self) -> int:
        """Run the outbox until nothing is due; how many deliveries it claimed."""
        claimed = 0
        while found := await self.dispatcher.run_once():
            claimed += found
        return claimed

    async def wait(self, predicate: Callable[[], bool]) -> None:
        """Until the fake has seen what ``predicate`` wants (10 s at most)."""
        async with asyncio.timeout(WAIT_S):
            await self.fake.wait_for(predicate)

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def opened(self) -> tuple[int, Message]:
        """An incident opened and its card delivered to GROUP: its number and the card."""
        number = await self.ingest()
        await self.deliver()
        [card] = self.fake.cards(GROUP)
        return number, card

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def hook(self, update: JSONObject, *, secret: str | None = SECRET) -> ClientResponse:
        """POST ``update`` to the webhook as Telegram does (with ``secret``, if any)."""
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.client.post(HOOK, json=update, headers=headers)

    async def press(self, user: int, card: Message, verb: str, number: int) -> ClientResponse:
        """``user`` presses the ``verb`` button of ``card``."""
        response = await self.hook(self.fake.press(user, card, f"v1:{verb}:{number}"))
        assert response.status == 200, await response.text()
        return response

    async def say(self, user: int, chat: int, text: str, reply_to: Message | None = None) -> None:
        """``user`` writes ``text`` in ``chat`` (answering ``reply_to``)."""
        response = await self.hook(self.fake.write(user, chat, text, reply_to=reply_to))
        assert response.status == 200, await response.text()

    def replies(self, chat: int) -> list[str]:
        """What the bot said in ``chat`` besides cards, as shown, in order."""
        return [m.shown for m in self.fake.posts(chat) if not m.callback_data()]


async def start_gateway(
    aiohttp_client: Any, fake: FakeTelegram, http: aiohttp.ClientSession, settings: Settings
) -> TelegramGateway:
    """The app (the registry adds the Telegram routes) and its outbox."""
    assert settings.telegram is not None
    clock = ManualClock(NOW)
    app = create_app(settings, clock=clock, workers=False)
    client = await aiohttp_client(app)
    rt = app[RUNTIME]

    async def on_posted(
        conn: AsyncConnection, cards: Any, now: datetime
    ) -> bool:  # as gateway.background wires it
        return await catch_up(conn, settings, cards, now)

    dispatcher = Dispatcher(
        rt.db,
        {"telegram": TelegramSender(settings.telegram, http)},
        settings.outbox,
        clock,
        rt.metrics,
        on_posted=on_posted,
    )
    return TelegramGateway(client, fake, dispatcher, clock)


@pytest.fixture
async def telegram(aiohttp_server: Any) -> FakeTelegram:
    """A fake Telegram with GROUP, alice and bob (both linked) and a stranger."""
    fake = FakeTelegram()
    fake.add_group(GROUP, "On-call")
    fake.add_user(ALICE, "Alice", username="alice_tg")
    fake.add_user(BOB, "Bob", language_code="zh-hans")
    fake.add_user(STRANGER, "Mallory", username="mallory")
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def gateway(
    telegram: FakeTelegram, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> TelegramGateway:
    """The real app in webhook mode, Telegram pointed at the fake.

    ``telegram`` comes first: the app stops before the fake does, as it would in life.
    """
    settings = gateway_settings(tmp_path, telegram)
    return await start_gateway(aiohttp_client, telegram, http, settings)
