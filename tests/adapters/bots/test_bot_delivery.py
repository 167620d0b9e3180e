"""Bots end to end: incidents in, the outbox and the bot sender out, a fake platform that
checks what the real one checks; the burst digest, failures on the timeline, send-test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.registry import build_senders
from gateway.actions import perform
from gateway.clock import ManualClock
from gateway.domain import ActionRequest, AlertAction, AlertBatch, AlertEvent, Severity, Verb
from gateway.ingest.service import ingest
from gateway.metrics import Metrics
from gateway.outbox import Dispatcher
from gateway.runtime import Runtime
from gateway.sendtest import send_test
from storage import repo
from tests.fakes.lark_bot import HOOK_PREFIX, FakeLarkBot
from tests.fakes.telegram_bot import TOKEN, FakeTelegramBot
from tests.fakes.wecom_bot import KEY, PATH, FakeWecomBot
from tests.support import make_settings, running

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MEMBERS = {
    "alice": {
        "name": "Alice",
        "phone": "+8613800000001",
        "identities": [{"platform": "wecom", "user_id": "wx.alice"}],
    },
    "bob": {"name": "Bob", "phone": "+8613800000002"},
}


@dataclass
class Rig:
    rt: Runtime
    clock: ManualClock
    dispatcher: Dispatcher

    async def drain(self) -> None:
        while await self.dispatcher.run_once():
            pass


@asynccontextmanager
async def rig(
    tmp_path: Path, bots: list[dict[str, Any]], http: aiohttp.ClientSession
) -> AsyncIterator[Rig]:
    service = {
        "escalation": {"levels": [{"targets": ["alice", "bob"], "wait_min": 10}]},
        "notify": bots,
    }
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db", services={"default": service}, members=MEMBERS
    )
    clock = ManualClock(START)
    async with running(settings, clock) as rt:
        senders = build_senders(settings, http)
        yield Rig(rt, clock, Dispatcher(rt.db, senders, settings.outbox, clock, Metrics()))


@pytest.fixture
async def wecom(aiohttp_server: AiohttpServer) -> FakeWecomBot:
    fake = FakeWecomBot(KEY, clock=ManualClock(START))
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH).with_query(key=KEY))
    return fake


async def fire(rt: Runtime, key: str) -> int:
    event = AlertEvent(key, AlertAction.TRIGGER, f"Disk full {key}", Severity.CRITICAL)
    return (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]


async def test_a_burst_of_50_to_a_20_a_minute_wecom_bot(
    tmp_path: Path, wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    async with rig(tmp_path, [{"kind": "wecom_bot", "url": wecom.url}], http) as r:
        wecom.clock = r.clock  # the fake counts its minute on the gateway's clock
        numbers = [await fire(r.rt, f"k{i}") for i in range(50)]
        await r.drain()
        # The fake refuses anything past 20 a minute (45009): nothing was refused, and the
        # 20 messages of the minute carried all 50: 18 alone, 32 in two digests of 16.
        assert len(wecom.accepted) == 20
        assert len(wecom.received) == 20
        digests = [b for b in wecom.accepted if "faster than this bot" in str(b)]
        assert len(digests) == 2
        r.clock.advance(seconds=67)  # the minute, and the tenth the outbox keeps in reserve
        await r.drain()
        assert len(wecom.accepted) == 20  # nothing was left waiting
        bodies = [str(b) for b in wecom.accepted]
        for n in numbers:
            assert sum(f"#{n} " in b for b in bodies) == 1, n
        # Every message asks for alice by id and bob by phone.
        assert all(b["msgtype"] == "text" for b in wecom.accepted)
        assert all(b["text"]["mentioned_list"] == ["wx.alice"] for b in wecom.accepted)
        assert all(b["text"]["mentioned_mobile_list"] == ["13800000002"] for b in wecom.accepted)
        async with r.rt.db.read() as conn:
            states = {r2["state"] for n in numbers for r2 in await repo.deliveries_for(conn, n)}
        assert states == {"sent"}


async def test_a_feishu_bot_keeps_to_five_a_second_and_a_hundred_a_minute(
    tmp_path: Path, aiohttp_server: AiohttpServer, http: aiohttp.ClientSession
) -> None:
    lark = FakeLarkBot("lark-hook-token", clock=ManualClock(START))
    server = await aiohttp_server(lark.app)
    lark.url = str(server.make_url(HOOK_PREFIX + "lark-hook-token"))
    async with rig(tmp_path, [{"kind": "lark_bot", "url": lark.url}], http) as r:
        lark.clock = r.clock  # the fake counts on the gateway's clock
        numbers = [await fire(r.rt, f"k{i}") for i in range(40)]
        for _ in range(20):  # the outbox runs as its clock moves, a tenth of a second a time
            await r.drain()
            r.clock.advance(seconds=0.1)
        # Never refused: at most 5 in any second, the burst past them merged into digests.
        refused = [b for b in lark.received if b not in lark.accepted]
        assert refused == []
        bodies = [str(b) for b in lark.accepted]
        for n in numbers:
            assert sum(f"#{n} " in b for b in bodies) == 1, n
        assert len(lark.accepted) <= 5 * 3  # two seconds of clock: at most 5 per 1.1 s


async def test_a_bad_key_fails_for_good_on_the_timeline_with_a_hint(
    tmp_path: Path, wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    wecom.key = "rotated"
    bot = {"kind": "wecom_bot", "url": wecom.url, "alias": "DBA group"}
    async with rig(tmp_path, [bot], http) as r:
        n = await fire(r.rt, "k")
        await r.drain()
        async with r.rt.db.read() as conn:
            incident = await repo.load_incident(conn, n, details=True)
        assert incident is not None
        failed = [e for e in incident.timeline if e.kind == "delivery_failed"]
        assert len(failed) == 1
        assert failed[0].data["destination"] == "DBA group"
        assert failed[0].data["attempts"] == 1  # not retried: retrying cannot help
        assert "93000" in failed[0].data["error"]
        assert "create a new bot" in failed[0].data["error"]


async def test_telegram_chats_are_delivered_and_retried_apart(
    tmp_path: Path, aiohttp_server: AiohttpServer, http: aiohttp.ClientSession
) -> None:
    fake = FakeTelegramBot()
    fake.add_chat("-100111")
    fake.add_chat("-100222")
    server = await aiohttp_server(fake.app)
    bot = {
        "kind": "telegram_bot",
        "url": str(server.make_url("")),
        "token": TOKEN,
        "chat_ids": ["-100111", "-100222"],
    }
    async with rig(tmp_path, [bot], http) as r:
        n = await fire(r.rt, "k")
        fake.fail_next(429, "Too Many Requests: retry after 7", retry_after=7)
        await r.drain()
        assert len(fake.sent) == 1
        r.clock.advance(seconds=600)
        await r.drain()
        assert sorted(m.chat_id for m in fake.sent) == ["-100111", "-100222"]
        await perform(r.rt, ActionRequest(n, Verb.ACK, "api", member="bob"))
        await r.drain()
        for chat in ("-100111", "-100222"):
            shown = [m.shown for m in fake.messages(chat)]
            assert len(shown) == 2  # triggered, acknowledged: once each, never twice
            assert "Disk full k" in shown[0]


async def test_send_test_reports_ok_or_the_platforms_words(
    tmp_path: Path, wecom: FakeWecomBot
) -> None:
    bots = {"ops": {"kind": "wecom_bot", "url": wecom.url, "alias": "Ops"}}
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db", destinations=bots)
    line = await send_test(settings, "ops")
    assert line.startswith("OK destinations.ops [Ops] (wecom_bot) in ")
    assert "test notice" in str(wecom.accepted[-1])
    wecom.key = "gone"
    line = await send_test(settings, "destinations.ops")
    assert line.startswith(
        "FAILED destinations.ops [Ops] (wecom_bot): AuthFailed: wecom_bot: 93000"
    )
    with pytest.raises(ValueError, match="known: ops"):
        await send_test(settings, "nope")
