"""Every inbound endpoint as its rightful caller and as an attacker see it: how to start it,
make one correctly authenticated request that changes something, and forge that request in
every way its platform's authentication can be forged.

A ``Rig`` is one endpoint (one kind of request to it) on a real app whose platform is faked on
127.0.0.1. Each attack comes with its control: the same builder, without the one thing the
attack changes, must be accepted and must change the database, or the refusal proves nothing.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import sqlalchemy as sa
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient, AiohttpServer

from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from storage import tables
from tests.support import fixture

Client = TestClient[web.Request, web.Application]

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # the adapters' fakes and helpers use it too
STALE_S = 6 * 60  # older than every 5-minute window
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}  # alice's
ATTACKS = ("forged", "changed_body", "stale", "wrong_app", "missing_headers", "replay")


@dataclass(frozen=True)
class Req:
    """One HTTP request, exactly as it is sent (the body is raw bytes)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    async def send(self, client: Client) -> ClientResponse:
        """Send it to ``client``'s app; the body is read before the answer is returned."""
        response = await client.request(
            self.method,
            self.path,
            data=self.body,
            headers=dict(self.headers),
            allow_redirects=False,
        )
        await response.read()
        return response

    def without(self, *names: str) -> Req:
        """The same request without these headers (case-insensitive)."""
        gone = {n.lower() for n in names}
        kept = {k: v for k, v in self.headers.items() if k.lower() not in gone}
        return Req(self.method, self.path, kept, self.body)

    def with_headers(self, **headers: str) -> Req:
        """The same request with these headers set (``_`` in a name becomes ``-``)."""
        named = {k.replace("_", "-"): v for k, v in headers.items()}
        kept = {k: v for k, v in self.headers.items() if k.lower() not in _lower(named)}
        return Req(self.method, self.path, {**kept, **named}, self.body)


def _lower(names: Mapping[str, str]) -> set[str]:
    return {n.lower() for n in names}


@dataclass(frozen=True)
class Variant:
    """One way to mount an attack, and the status it must get (4xx, or a 2xx that is only
    told or ignored: the database tells whether anything happened)."""

    label: str
    req: Req
    expect: int


@dataclass(frozen=True)
class Case:
    """An attack's variants and its control (the same request, built right); ``setup`` is
    sent first (what the platform really sent, before someone reused it)."""

    variants: tuple[Variant, ...]
    control: Req
    setup: tuple[Req, ...] = ()


@dataclass
class Env:
    """What a rig starts its fakes and apps with; closed when the test ends."""

    aiohttp_client: AiohttpClient
    aiohttp_server: AiohttpServer
    tmp_path: Path
    http: aiohttp.ClientSession
    stack: AsyncExitStack

    async def serve(self, app: web.Application) -> str:
        """Serve a fake on an ephemeral loopback port; its root URL without a slash."""
        server = await self.aiohttp_server(app)
        return str(server.make_url("")).rstrip("/")

    async def client(self, app: web.Application) -> Client:
        """A test client for ``app`` (started now, stopped when the test ends)."""
        made: Client = await self.aiohttp_client(app)
        return made


class Rig(ABC):
    """One endpoint on a running app. Subclasses say how its requests are made and forged."""

    name: ClassVar[str]  # the row: "slack click"
    platform: ClassVar[str]  # the group the counts are kept under
    # Attacks that cannot apply to this endpoint, each with why.
    not_applicable: ClassVar[Mapping[str, str]] = {}
    # Whether an accepted request changes the database (a URL check only answers).
    changes_state: ClassVar[bool] = True
    # 5xx answers that are the platform's own protocol, not a failure, with why.
    protocol_5xx: ClassVar[Mapping[int, str]] = {}

    client: Client
    settings: Settings
    clock: ManualClock
    number: int  # the incident the requests act on (``open`` sets it)

    @property
    def app(self) -> web.Application:
        """The app under attack."""
        return self.client.app

    @abstractmethod
    async def start(self, env: Env) -> None:
        """Start the platform's fakes and the app (no background workers)."""

    async def open(self) -> None:
        """Open the incident the requests act on (``number``), with whatever a click needs
        (a delivered card)."""
        self.number = await ingest(self.client)

    @abstractmethod
    def act(self) -> Req:
        """A fresh, correctly authenticated request that acknowledges the incident."""

    async def accepted(self, response: ClientResponse) -> bool:
        """Whether an answer is the one a correct request gets (beyond its 2xx status)."""
        return 200 <= response.status < 300

    async def fresh(self) -> Req:
        """A request like ``act``'s, made anew after a replay (new ids, or a new target)."""
        return self.act()

    def case(self, attack: str) -> Case:
        """The ``attack`` on this endpoint (a method of the same name)."""
        build = getattr(self, attack)
        made: Case = build()
        return made

    async def quiet(self) -> None:  # noqa: B027 - most endpoints do nothing after answering
        """Until the app has done what it does after answering (replies to the platform)."""

    async def reset(self) -> None:
        """Put the incident back where the request ``act`` makes would change it again."""
        for verb in ("close", "reopen"):
            r = await self.client.post(
                f"/v1/incidents/{self.number}/actions", json={"verb": verb}, headers=API
            )
            assert r.status == 200, await r.text()

    async def replica(self, env: Env) -> Client:
        """A second app on the same database, as another replica (or this one restarted)."""
        return await env.client(create_app(self.settings, clock=self.clock, workers=False))

    # --- fuzzing -----------------------------------------------------------------------------

    def template(self) -> Any:
        """What the platform sends (before signing and encryption) to act on the incident."""
        raise NotImplementedError(self.name)

    def encode(self, doc: Any) -> bytes:
        """``template``-shaped content as the body's plaintext (JSON unless said otherwise;
        a lone surrogate stays an escape, as a hostile sender may write it)."""
        return json.dumps(doc, default=str).encode()

    def wrap(self, plain: bytes) -> Req:
        """``plain`` sent as the platform would send it: authenticated (encrypted, signed)."""
        raise NotImplementedError(self.name)

    def forge(self, plain: bytes) -> Req:
        """``plain`` sent by someone without the platform's secrets."""
        raise NotImplementedError(self.name)


async def ingest(client: Client, alert: str = "firing.json") -> int:
    """Post an Alertmanager fixture; the number of the incident it opened."""
    body = fixture("alertmanager", alert)
    r = await client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
    assert r.status == 202, await r.text()
    [number] = (await r.json())["opened"]
    return int(number)


async def snapshot(app: web.Application) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: two snapshots are equal only if nothing changed."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with app[RUNTIME].db.read() as conn:
        for table in tables.metadata.sorted_tables:
            rows = (await conn.execute(sa.select(table))).all()
            found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def changes(before: Mapping[str, list[Any]], after: Mapping[str, list[Any]]) -> list[str]:
    """The tables whose rows differ: what to say when a snapshot should not have changed."""
    return [name for name in after if before.get(name) != after[name]]
