"""Two `ackgate serve` processes on one PostgreSQL database share the work: 1,000 incidents
with a two-level escalation, one replica killed with SIGKILL midway, and the other finishes:
every step fires once, every notice reaches the receiver (twice only where the killed
replica may have sent it just before it died)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import create_async_engine

from tests.gateway.test_crash import API, INGEST, TOKEN, free_port, healthy, server
from tests.support import pg_schema, pg_url

INCIDENTS = 1000
KILL_AFTER = 300  # notices received before one replica is killed
BATCH = 50  # the outbox batch: at most this many sends in flight on the killed replica
WAIT_S = 120.0  # a bound, never a pause
EVENTS = ("incident.triggered", "incident.escalated")

CONFIG = """
[server]
listen = "127.0.0.1:8080"
secret_key = "replica-test-secret-key-0123456789"

[database]
url = "{url}"
schema_name = "{schema}"

[integrations.events]
format = "generic"
token = "{token}"

[members.alice]
email = "alice@example.com"

[members.bob]
email = "bob@example.com"

[[api_tokens]]
token = "crash-api-token"
member = "alice"

[services.default]

[[services.default.escalation.levels]]
targets = ["alice"]
wait_min = 0.05

[[services.default.escalation.levels]]
targets = ["bob"]
wait_min = 0.05

[[services.default.notify]]
kind = "webhook"
url = "http://127.0.0.1:{hook}/hook"

[outbox]
base_delay_s = 0.2
max_delay_s = 1
poll_interval_s = 0.2
lease_s = 2
batch_size = {batch}
"""


@dataclass
class Heard:
    got: list[tuple[str, int, str]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S), self.changed:
            await self.changed.wait_for(predicate)


async def count(url: str, schema: str, query: str) -> dict[str, int]:
    """``query``'s (key, count) rows, read in the test's schema."""
    engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        async with engine.connect() as conn:
            return {str(k): int(n) for k, n in (await conn.execute(sa.text(query))).all()}
    finally:
        await engine.dispose()


async def settled(url: str, schema: str) -> dict[str, int]:
    """The webhook deliveries by state, once none is waiting or being sent (bounded)."""
    query = "SELECT state, count(*) FROM deliveries WHERE channel = 'webhook' GROUP BY 1"
    async with asyncio.timeout(WAIT_S):
        while True:
            states = await count(url, schema, query)
            if not {"pending", "sending"} & set(states):
                return states
            await asyncio.sleep(0.2)


@asynccontextmanager
async def receiver(port: int) -> AsyncIterator[Heard]:
    """The notices of opening and escalation the webhook receiver got: (delivery id,
    incident number, event)."""
    heard = Heard()

    async def hook(request: web.Request) -> web.Response:
        doc: dict[str, Any] = await request.json()
        if doc["event"] in EVENTS:
            delivery = request.headers["X-Ackgate-Delivery"]
            async with heard.changed:
                heard.got.append((delivery, int(doc["incident"]["number"]), str(doc["event"])))
                heard.changed.notify_all()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield heard
    finally:
        await runner.cleanup()


async def test_a_replica_killed_midway_leaves_its_work_to_the_other(tmp_path: Path) -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    hook = free_port()
    async with pg_schema(url) as schema, receiver(hook) as heard:
        got = heard.got
        config = tmp_path / "ackgate.toml"
        config.write_text(
            CONFIG.format(url=url, schema=schema, token=TOKEN, hook=hook, batch=BATCH)
        )
        ports = [free_port(), free_port()]
        with server(config, "--listen", f"127.0.0.1:{ports[0]}") as one:
            await healthy(f"http://127.0.0.1:{ports[0]}")
            with server(config, "--listen", f"127.0.0.1:{ports[1]}") as two:
                await healthy(f"http://127.0.0.1:{ports[1]}")
                bases = [f"http://127.0.0.1:{port}" for port in ports]
                async with aiohttp.ClientSession() as http:

                    async def fire(i: int) -> None:
                        event = {
                            "routing_key": TOKEN,
                            "event_action": "trigger",
                            "dedup_key": f"k{i}",
                            "payload": {"summary": f"k{i}", "source": "t", "severity": "error"},
                        }
                        async with http.post(
                            f"{bases[i % 2]}/v1/alerts/events", json=event, headers=INGEST
                        ) as r:
                            assert r.status == 202, await r.text()

                    for start in range(0, INCIDENTS, 50):
                        await asyncio.gather(*(fire(i) for i in range(start, start + 50)))
                    await heard.until(lambda: len(got) >= KILL_AFTER)
                    os.kill(two.pid, signal.SIGKILL)
                    two.wait(10)
                    killed_at = len(got)

                    def done() -> bool:
                        heard = {(n, e) for _, n, e in got}
                        return len(heard) == 2 * INCIDENTS

                    await heard.until(done)
                    async with http.get(f"{bases[0]}/v1/incidents?limit=1", headers=API) as r:
                        assert (await r.json())["total"] == INCIDENTS
                    # What the killed replica had claimed is taken over once its lease runs
                    # out, and sent again (it may have reached the receiver already).
                    states = await settled(url, schema)
                assert one.poll() is None  # the survivor is still serving

        assert killed_at < 2 * INCIDENTS  # the kill came while there was work left
        per_notice = Counter((n, e) for _, n, e in got)
        assert set(per_notice) == {(n, e) for n in range(1, INCIDENTS + 1) for e in EVENTS}
        # A second copy only of a delivery the killed replica had in flight; never a second
        # delivery for the same notice.
        twice = [key for key, n in per_notice.items() if n > 1]
        assert len(twice) <= BATCH, twice
        deliveries = Counter(d for d, _, _ in got)
        assert len(deliveries) == 2 * INCIDENTS
        kinds = await count(url, schema, "SELECT kind, count(*) FROM timeline_events GROUP BY 1")
        assert kinds["triggered"] == INCIDENTS
        assert kinds["escalated"] == INCIDENTS  # every step once, whichever replica fired it
        assert set(states) == {"sent"}  # nothing left behind, nothing failed
