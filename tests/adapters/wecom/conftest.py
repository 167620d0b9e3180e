"""WeCom fixtures: a fake WeCom API, and the real gateway wired to it, spoken to as WeCom.

The app is ``create_app(..., workers=False)`` with the WeCom routes, and the outbox is
drained by hand (``deliver``) with a Dispatcher holding the real WecomSender, so no test
waits on a timer. Every callback is encrypted and signed by the fake, with the algorithm
written out there rather than taken from ``adapters.wecom.crypto``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.wecom.inbound import PATH, WECOM
from adapters.wecom.inbound import add_routes as add_wecom_routes
from adapters.wecom.sender import WecomSender
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, Card, FakeWecom
from tests.support import fixture, make_settings, settings_doc

ALICE = "alice.wang"  # linked as config writes it: no workspace
BOB = "bob.li"  # linked under the corp id
STRANGER = "mallory"  # in the corp, linked to no member
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
DRAIN_MAX = 50  # outbox batches per drain: far more than any test needs


def wecom_section(fake: FakeWecom, **overrides: Any) -> dict[str, Any]:
    """A ``[wecom]`` section pointing at ``fake``."""
    return {
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base_url": fake.url,
        **overrides,
    }


def gateway_settings(tmp_path: Path, fake: FakeWecom, **wecom: Any) -> Settings:
    """The test settings with WeCom on: alice (paged first) and bob linked, no group cards."""
    doc = settings_doc()
    doc["members"]["alice"]["identities"].append({"platform": "wecom", "user_id": ALICE})
    doc["members"]["bob"]["identities"] = [
        {"platform": "wecom", "workspace": CORP_ID, "user_id": BOB}
    ]
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        wecom=wecom_section(fake, **wecom),
        members=doc["members"],
        services=doc["services"],
    )


class WecomGateway:
    """The real app and an outbox drained by hand, with helpers that act like WeCom."""

    def __init__(
        self, client: TestClient[Any, Any], fake: FakeWecom, dispatcher: Dispatcher
    ) -> None:
        self.client = client
        self.fake = fake
        self.dispatcher = dispatcher
        self.clock: ManualClock = client.app[RUNTIME].clock

    async def deliver(self) -> int:
        """Run the outbox until nothing is due; how many deliveries it claimed."""
        claimed = 0
        for _ in range(DRAIN_MAX):
            found = await self.dispatcher.run_once()
            if not found:
                return claimed
            claimed += found
        pytest.fail("the outbox did not run dry")

    async def quiet(self) -> None:
        """Until the gateway has said everything it means to say after its answers."""
        await self.client.app[WECOM].quiet()

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def opened(self) -> tuple[int, Card]:
        """An incident opened and its card DM'd to alice: its number and the card."""
        number = await self.ingest()
        await self.deliver()
        [card] = self.fake.cards_of(ALICE)
        return number, card

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def post(self, query: dict[str, str], body: bytes) -> ClientResponse:
        """POST a callback to ``/hooks/wecom`` as WeCom does."""
        return await self.client.post(PATH, params=query, data=body)

    async def deliver_callback(self, message: bytes, **kwargs: Any) -> ClientResponse:
        """Encrypt, sign and POST ``message`` (a decrypted event) as WeCom would."""
        query, body = self.fake.callback(message, **kwargs)
        return await self.post(query, body)

    async def press(self, user: str, card: Card, key: str) -> None:
        """``user`` presses the button ``key`` on ``card``; waits for the gateway's follow-up."""
        r = await self.deliver_callback(self.fake.click(user, card, key))
        assert r.status == 200, await r.text()
        assert await r.text() == ""  # no passive reply: the card is updated by the API
        await self.quiet()

    async def say(self, user: str, text: str) -> str:
        """``user`` sends ``text`` to the app; the text it answers with."""
        before = len(self.fake.texts_of(user))
        r = await self.deliver_callback(self.fake.text_message(user, text))
        assert r.status == 200, await r.text()
        await self.quiet()
        answers = self.fake.texts_of(user)[before:]
        assert len(answers) == 1, answers
        return answers[0]


@pytest.fixture
async def wecom(aiohttp_server: Any) -> FakeWecom:
    """A fake WeCom with alice, bob and a stranger in the corp."""
    fake = FakeWecom(clock=ManualClock(NOW))
    fake.add_member(ALICE, mobile="13800000001", email="alice@example.com")
    fake.add_member(BOB, mobile="13800000002", email="bob@example.com")
    fake.add_member(STRANGER)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


async def start_gateway(
    aiohttp_client: Any, fake: FakeWecom, session: aiohttp.ClientSession, settings: Settings
) -> WecomGateway:
    """The app with the WeCom routes, its outbox, and the fake on the app's clock."""
    assert settings.wecom is not None
    clock = ManualClock(NOW)
    fake.clock = clock
    app = create_app(settings, clock=clock, workers=False)
    if not any(r.canonical == PATH for r in app.router.resources()):
        add_wecom_routes(app, settings.wecom)  # until the registry knows WeCom
    client = await aiohttp_client(app)
    rt = app[RUNTIME]

    async def on_posted(conn: AsyncConnection, cards: Any, now: datetime) -> bool:
        return await catch_up(conn, settings, cards, now)  # as gateway.background wires it

    dispatcher = Dispatcher(
        rt.db,
        {"wecom": WecomSender(settings.wecom, session)},
        settings.outbox,
        clock,
        rt.metrics,
        on_posted=on_posted,
    )
    return WecomGateway(client, fake, dispatcher)


@pytest.fixture
async def gateway(
    wecom: FakeWecom, aiohttp_client: Any, tmp_path: Path
) -> AsyncIterator[WecomGateway]:
    """The real app, WeCom pointed at the fake; the outbox is drained with ``deliver()``."""
    async with aiohttp.ClientSession() as session:
        yield await start_gateway(aiohttp_client, wecom, session, gateway_settings(tmp_path, wecom))
