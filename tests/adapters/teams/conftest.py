"""Teams fixtures: a fake Teams (Bot Connector, token endpoint, signing keys), and the real
gateway wired to it, spoken to as the Bot Connector service speaks.

The app is ``create_app(..., workers=False)`` with the Teams route, and the outbox is driven
by hand (``deliver``) with a Dispatcher holding the real TeamsSender, so no test waits on a
timer. Every activity carries a JWT signed with the fake's key, as the Bot Connector signs.
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

from adapters.teams import inbound
from adapters.teams.addresses import KNOWN
from adapters.teams.sender import TeamsSender
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.teams import APP_ID, APP_PASSWORD, CHANNEL, TENANT, FakeTeams, Person, Posted
from tests.support import fixture, make_settings, settings_doc

HOOK = "/hooks/teams"
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

ALICE = Person("29:1alice-teams-id", "aaaaaaaa-0000-4000-8000-00000000a11c", "Alice Adams")
BOB = Person("29:1bob-teams-id", "bbbbbbbb-0000-4000-8000-000000000b0b", "Bob Brown")
MALLORY = Person("29:1mallory-teams-id", "cccccccc-0000-4000-8000-0000000ma11", "Mallory")


def teams_section(fake: FakeTeams, **overrides: Any) -> dict[str, Any]:
    """A ``[teams]`` section pointing at ``fake``."""
    return {
        "app_id": APP_ID,
        "app_password": APP_PASSWORD,
        "tenant_id": TENANT,
        "openid_metadata_url": fake.openid_url,
        "token_url": fake.token_url,
        **overrides,
    }


def gateway_settings(
    tmp_path: Path, fake: FakeTeams, *, members: dict[str, Any] | None = None, **teams: Any
) -> Settings:
    """The test settings with Teams on: cards in CHANNEL, alice and bob linked (and
    ``members`` besides).

    Alice's identity carries the fake's service URL (so her 1:1 chat is reached before she
    ever writes); Bob's is his bare Entra object id.
    """
    doc = settings_doc()
    doc["members"].update(members or {})
    doc["members"]["alice"]["identities"].append(
        {"platform": "teams", "user_id": f"{fake.service_url}|{ALICE.aad_object_id}"}
    )
    doc["members"]["bob"]["identities"] = [{"platform": "teams", "user_id": BOB.aad_object_id}]
    doc["services"]["default"]["notify"] = [{"kind": "teams", "chat": fake.chat(CHANNEL)}]
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        teams=teams_section(fake, **teams),
        members=doc["members"],
        services=doc["services"],
        outbox={"poll_interval_s": 0.05, "base_delay_s": 0.01, "max_delay_s": 0.05},
    )


class TeamsGateway:
    """The real app and its outbox, with helpers that act the way Teams and people do."""

    def __init__(
        self,
        client: TestClient[Any, Any],
        fake: FakeTeams,
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

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def opened(self) -> tuple[int, Posted]:
        """An incident opened and its card delivered to CHANNEL: its number and the card."""
        number = await self.ingest()
        await self.deliver()
        [card] = self.fake.cards(CHANNEL)
        return number, card

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def hook(
        self, activity: dict[str, Any], authorization: str | None = None
    ) -> ClientResponse:
        """POST ``activity`` as the Bot Connector does: signed for its service URL, unless
        ``authorization`` says otherwise ("" sends no header)."""
        if authorization is None:
            authorization = self.fake.bearer(service_url=activity.get("serviceUrl"))
        headers = {"Authorization": authorization} if authorization else {}
        return await self.client.post(HOOK, json=activity, headers=headers)

    async def press(
        self, person: Person, card: Posted, verb: str, number: int, **inputs: str
    ) -> dict[str, Any]:
        """``person`` presses ``verb`` on ``card`` (with form ``inputs``): the invoke's answer."""
        data = {"a": f"v1:{verb}:{number}", **inputs}
        response = await self.hook(self.fake.invoke(person, card, verb, data))
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def say(self, person: Person, text: str, **how: Any) -> ClientResponse:
        """``person`` writes ``text`` (in their 1:1 chat unless ``conversation=``)."""
        response = await self.hook(self.fake.message(person, text, **how))
        assert response.status == 200, await response.text()
        return response


async def start_gateway(
    aiohttp_client: Any, fake: FakeTeams, http: aiohttp.ClientSession, settings: Settings
) -> TeamsGateway:
    """The app with the Teams route, and its outbox."""
    assert settings.teams is not None
    clock = ManualClock(NOW)
    app = create_app(settings, clock=clock, workers=False)
    if not any(r.resource.canonical == HOOK for r in app.router.routes() if r.resource):
        # Until the registry adds Teams: what it will do.
        inbound.add_routes(app, settings.teams)
    client = await aiohttp_client(app)
    rt = app[RUNTIME]

    async def on_posted(
        conn: AsyncConnection, cards: Any, now: datetime
    ) -> bool:  # as gateway.background wires it
        return await catch_up(conn, settings, cards, now)

    dispatcher = Dispatcher(
        rt.db,
        {"teams": TeamsSender(settings, http)},
        settings.outbox,
        clock,
        rt.metrics,
        on_posted=on_posted,
    )
    return TeamsGateway(client, fake, dispatcher, clock)


@pytest.fixture
async def teams(aiohttp_server: Any) -> AsyncIterator[FakeTeams]:
    """A fake Teams with the on-call channel, alice, bob (both linked) and mallory.

    What the process learned from earlier tests' activities is forgotten first.
    """
    KNOWN.clear()
    fake = FakeTeams()
    for person in (ALICE, BOB, MALLORY):
        fake.add_person(Person(person.id, person.aad_object_id, person.name))
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    KNOWN.clear()


@pytest.fixture
async def gateway(
    teams: FakeTeams, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> TeamsGateway:
    """The real app, Teams pointed at the fake.

    ``teams`` comes first: the app stops before the fake does, as it would in life.
    """
    return await start_gateway(aiohttp_client, teams, http, gateway_settings(tmp_path, teams))
