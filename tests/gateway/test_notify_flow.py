"""End to end: an alert and an ack each reach a signed webhook through the real outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from gateway.web.app import create_app
from tests.fakes.webhook import PATH, FakeWebhook
from tests.support import fixture, make_settings, settings_doc

SECRET = "webhook-signing-secret"
AUTH = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}


async def start(aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path) -> tuple[Any, Any]:
    fake = FakeWebhook(secret=SECRET)
    server: TestServer = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH))
    services = settings_doc()["services"]
    services["default"]["notify"] = [{"kind": "webhook", "url": fake.url, "secret": SECRET}]
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        services=services,
        outbox={"base_delay_s": 0.01, "max_delay_s": 0.05, "poll_interval_s": 0.05},
    )
    client = await aiohttp_client(create_app(settings))
    return fake, client


async def test_incident_events_reach_the_webhook_signed(
    aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    fake, client = await start(aiohttp_server, aiohttp_client, tmp_path)
    r = await client.post(
        "/v1/alerts/prometheus", json=fixture("alertmanager", "firing.json"), headers=AUTH
    )
    assert r.status == 202
    async with asyncio.timeout(10):
        await fake.wait_for(1)
    first = fake.received[0].json
    assert first["event"] == "incident.triggered"
    assert first["incident"]["number"] == 1
    assert first["url"].endswith("/incidents/1")
    r = await client.post("/v1/incidents/1/actions", json={"verb": "ack"}, headers=API)
    assert r.status == 200
    async with asyncio.timeout(10):
        await fake.wait_for(2)
    second = fake.received[1].json
    assert second["event"] == "incident.acknowledged"
    assert second["incident"]["acked_by"] == "alice"
    assert second["entry"]["actor"] == "alice"
    assert all(r.headers.get("X-Ackgate-Signature") for r in fake.received)


async def test_a_failed_send_is_retried_until_it_lands(
    aiohttp_server: Any, aiohttp_client: Any, tmp_path: Path
) -> None:
    fake, client = await start(aiohttp_server, aiohttp_client, tmp_path)
    fake.script(500, 503)
    await client.post(
        "/v1/alerts/prometheus", json=fixture("alertmanager", "firing.json"), headers=AUTH
    )
    async with asyncio.timeout(10):
        await fake.wait_for(3)
    assert [r.json["event"] for r in fake.received] == ["incident.triggered"] * 3
    assert len(set(fake.delivery_ids())) == 1
    attempts = [r.headers["X-Ackgate-Attempt"] for r in fake.received]
    assert attempts == ["1", "2", "3"]
