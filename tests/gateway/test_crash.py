"""Crash safety: the server is killed with SIGKILL in the middle of a storm of alerts, then
started again on the same database. Every alert that was answered 2xx is there, and every
incident's notice goes out after the restart (a second copy only where the first send may
have reached the receiver just before the crash)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.config import OutboxSettings

TOKEN = "crash-test-token"
API = {"Authorization": "Bearer crash-api-token"}
INGEST = {"Authorization": f"Bearer {TOKEN}"}
KILL_AFTER = 300  # alerts answered before the kill
WAIT_S = 60.0  # bounds for the test, never pauses
SENDERS = 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


CONFIG = """
[server]
listen = "127.0.0.1:{port}"
secret_key = "crash-test-secret-key-0123456789"

[database]
url = "sqlite+aiosqlite:///{db}"

[integrations.events]
format = "generic"
token = "{token}"

[members.alice]
email = "alice@example.com"

[[api_tokens]]
token = "crash-api-token"
member = "alice"

[services.default]

[[services.default.notify]]
kind = "webhook"
url = "http://127.0.0.1:{hook}/hook"

[outbox]
base_delay_s = 0.2
max_delay_s = 1
poll_interval_s = 0.2
lease_s = 2
"""


@contextmanager
def server(config: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


async def healthy(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the server did not come up")


@asynccontextmanager
async def receiver(port: int) -> AsyncIterator[tuple[list[str], asyncio.Condition]]:
    """A webhook receiver: the title of every incident it was told about, as it hears them."""
    got: list[str] = []
    heard = asyncio.Condition()

    async def hook(request: web.Request) -> web.Response:
        doc: dict[str, Any] = await request.json()
        if doc.get("event") == "incident.triggered":
            async with heard:
                got.append(doc["incident"]["title"])
                heard.notify_all()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield got, heard
    finally:
        await runner.cleanup()


def alert(i: int) -> dict[str, Any]:
    summary = {"summary": f"alert k{i}", "source": "crash", "severity": "error"}
    return {
        "routing_key": TOKEN,
        "event_action": "trigger",
        "dedup_key": f"k{i}",
        "payload": summary,
    }


async def all_titles(base: str) -> set[str]:
    titles: set[str] = set()
    async with aiohttp.ClientSession() as http:
        offset = 0
        while True:
            url = f"{base}/v1/incidents?limit=200&offset={offset}"
            async with http.get(url, headers=API) as r:
                page = (await r.json())["incidents"]
            if not page:
                return titles
            titles.update(i["title"] for i in page)
            offset += len(page)


async def test_sigkill_mid_storm_loses_nothing_answered(tmp_path: Path) -> None:
    port, hook = free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=port, db=tmp_path / "crash.db", token=TOKEN, hook=hook))
    base = f"http://127.0.0.1:{port}"
    accepted: list[str] = []
    enough = asyncio.Event()
    async with receiver(hook) as (told, heard):
        with server(config) as proc:
            await healthy(base)
            numbers = iter(range(100_000))

            async def send(http: aiohttp.ClientSession) -> None:
                for i in numbers:
                    try:
                        url = f"{base}/v1/alerts/events"
                        async with http.post(url, json=alert(i), headers=INGEST) as r:
                            if r.status == 202:
                                accepted.append(f"alert k{i}")
                                if len(accepted) >= KILL_AFTER:
                                    enough.set()
                    except aiohttp.ClientError:
                        return  # the server is gone

            async def kill() -> None:
                await asyncio.wait_for(enough.wait(), WAIT_S)
                os.kill(proc.pid, signal.SIGKILL)

            async with aiohttp.ClientSession() as http:
                await asyncio.gather(kill(), *(send(http) for _ in range(SENDERS)))
            proc.wait(10)
        assert len(accepted) >= KILL_AFTER
        with server(config):
            await healthy(base)
            titles = await all_titles(base)
            # Every alert answered 2xx opened its incident before the answer went out.
            assert set(accepted) <= titles
            # Every incident's notice goes out once the server is back.
            async with heard:
                await asyncio.wait_for(heard.wait_for(lambda: titles <= set(told)), WAIT_S)
            # A second copy only where a send may have landed just before the kill but its
            # result was not recorded yet: at most the one batch the outbox had claimed.
            assert len(told) - len(set(told)) <= OutboxSettings().batch_size
