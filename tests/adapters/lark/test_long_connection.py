"""Long-connection mode: the gateway opens Lark's websocket and answers the events it carries
exactly as it answers the webhook's; it reconnects, backs off when refused, stops cleanly, and
only one replica holds it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from adapters.lark.api import LarkApi
from adapters.lark.inbound import LARK, PATH
from adapters.lark.longconn import LONG_CONNECTION, LongConnection
from gateway.clock import ManualClock
from gateway.web.app import create_app
from tests.adapters.lark.conftest import (
    ALICE,
    CHAT,
    NOW,
    LarkGateway,
    build_gateway,
    gateway_settings,
    lark_section,
    reply_text,
)
from tests.fakes.lark import APP_ID, APP_SECRET, FakeLark
from tests.fakes.lark_ws import CONTROL, DATA, SERVICE_ID, FakeLarkWs, Frame
from tests.support import make_settings, pg_schema, pg_url, settings_doc

WAIT_S = 10.0  # an upper bound for the test, never a pause
T = TypeVar("T")

LONG_CONNECTION_ONLY = {"mode": "long_connection", "verification_token": None, "encrypt_key": None}


async def within(awaitable: Awaitable[T]) -> T:
    async with asyncio.timeout(WAIT_S):
        return await awaitable


async def until(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` (for state the fakes do not announce) until it holds."""
    async with asyncio.timeout(WAIT_S):
        while not predicate():  # noqa: ASYNC110 - state that nothing announces
            await asyncio.sleep(0.01)


def lark_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks the Lark adapter started (they are all named ``lark…``)."""
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("lark") and not t.done()]


@pytest.fixture
async def connected(
    aiohttp_client: Any, lark: FakeLark, lark_ws: FakeLarkWs, tmp_path: Path
) -> AsyncIterator[LarkGateway]:
    """A long-connection gateway (no verification token, no encrypt key), connected."""
    make = build_gateway(gateway_settings(tmp_path, lark, **LONG_CONNECTION_ONLY))
    async for gateway in make(aiohttp_client, lark):
        await within(lark_ws.wait_for(lambda: lark_ws.connected and bool(lark_ws.pings)))
        yield gateway
        await gateway.client.close()  # before the fake Lark goes away, or it reconnects


async def test_the_gateway_connects_with_the_app_credentials_and_a_click_acks(
    connected: LarkGateway, lark: FakeLark, lark_ws: FakeLarkWs
) -> None:
    assert lark_ws.endpoint_calls == [{"AppID": APP_ID, "AppSecret": APP_SECRET}]
    [ping] = lark_ws.pings
    assert (ping.method, ping.service, ping.headers) == (CONTROL, SERVICE_ID, [("type", "ping")])
    # Nothing could prove who posted to the webhook, so there is none.
    assert (await connected.client.post(PATH, json={})).status == 404

    number = await connected.ingest()
    await connected.drain()
    [card] = lark.posts(CHAT)
    message_id = await lark_ws.push(connected.click_doc("ack", number, message_id=card.message_id))
    answer = await within(lark_ws.answer(message_id))

    assert answer.code == 200
    assert answer.data is not None
    assert answer.data["toast"] == {"type": "success", "content": "Acknowledged by alice"}
    assert answer.data["card"]["type"] == "raw"
    subtitle = answer.data["card"]["data"]["header"]["subtitle"]["content"]
    assert subtitle.startswith("Acknowledged by alice")
    # Answered on the same frame: its ids and headers kept, how long it took added.
    assert answer.frame.method == DATA
    assert answer.frame.header("message_id") == message_id
    assert answer.frame.header("trace_id") == f"trace-{message_id}"
    assert int(answer.frame.header("biz_rt") or "-1") >= 0
    assert (await connected.incident(number))["acked_by"] == "alice"


async def test_a_text_command_is_answered_through_the_api(
    connected: LarkGateway, lark: FakeLark, lark_ws: FakeLarkWs
) -> None:
    number = await connected.ingest()
    doc = connected.message_doc(f"ack {number}")
    asked = doc["event"]["message"]["message_id"]
    lark.add_incoming(asked, doc["event"]["message"]["chat_id"], f"ack {number}")

    answer = await within(lark_ws.answer(await lark_ws.push(doc)))
    assert (answer.code, answer.data) == (200, None)  # an event has nothing to say back
    await within(lark.wait_for(lambda: bool(lark.replies(asked))))

    [reply] = lark.replies(asked)
    assert reply_text(reply) == "Acknowledged by alice"
    assert reply.chat_id == FakeLark.p2p_chat(ALICE)
    assert (await connected.incident(number))["acked_by"] == "alice"


async def test_an_event_pushed_again_is_acted_on_once(
    connected: LarkGateway, lark: FakeLark, lark_ws: FakeLarkWs
) -> None:
    number = await connected.ingest()
    click = connected.click_doc("ack", number)
    first = await within(lark_ws.answer(await lark_ws.push(click)))
    again = await within(lark_ws.answer(await lark_ws.push(click)))
    assert first.data is not None
    assert first.data["toast"]["type"] == "success"
    assert (again.code, again.data) == (200, {})  # seen before: nothing done, nothing shown

    doc = connected.message_doc("list")
    asked = doc["event"]["message"]["message_id"]
    lark.add_incoming(asked, doc["event"]["message"]["chat_id"], "list")
    for _ in range(2):
        assert (await within(lark_ws.answer(await lark_ws.push(doc)))).code == 200
    await within(connected.quiet())
    assert len(lark.replies(asked)) == 1
    acks = [
        e for e in (await connected.incident(number))["timeline"] if e["kind"] == "acknowledged"
    ]
    assert len(acks) == 1


async def test_a_payload_in_two_parts_is_put_back_together(
    connected: LarkGateway, lark_ws: FakeLarkWs
) -> None:
    number = await connected.ingest()
    message_id = await lark_ws.push(connected.click_doc("ack", number), parts=2, order=iter([1, 0]))
    answer = await within(lark_ws.answer(message_id))
    assert answer.data is not None
    assert answer.data["toast"]["content"] == "Acknowledged by alice"
    assert answer.frame.header("seq") == "0"  # answered on the part that completed it
    assert len(lark_ws.answers[message_id]) == 1
    assert (await connected.incident(number))["acked_by"] == "alice"


async def test_a_dropped_connection_is_opened_again(
    connected: LarkGateway, lark_ws: FakeLarkWs
) -> None:
    await lark_ws.drop()
    await within(lark_ws.wait_for(lambda: lark_ws.connections == 2 and lark_ws.connected))
    assert len(lark_ws.endpoint_calls) == 2  # a new URL (and ticket) for each connection

    number = await connected.ingest()
    answer = await within(lark_ws.answer(await lark_ws.push(connected.click_doc("ack", number))))
    assert answer.data is not None
    assert answer.data["toast"]["type"] == "success"


async def test_with_its_secrets_the_webhook_still_works_beside_it(
    aiohttp_client: Any, lark: FakeLark, lark_ws: FakeLarkWs, tmp_path: Path
) -> None:
    """Moving from webhook to long connection: both ways in, one dedupe."""
    make = build_gateway(gateway_settings(tmp_path, lark, mode="long_connection"))
    async for gateway in make(aiohttp_client, lark):
        await within(lark_ws.wait_for(lambda: lark_ws.connected))
        number = await gateway.ingest()
        click = gateway.click_doc("ack", number)
        r = await gateway.post(click)
        assert r.status == 200
        assert (await r.json())["toast"]["type"] == "success"
        again = await within(lark_ws.answer(await lark_ws.push(click)))
        assert again.data == {}  # the same event, pushed the other way: seen before
        await gateway.client.close()


async def test_frames_it_cannot_use_are_ignored(
    connected: LarkGateway, lark_ws: FakeLarkWs, caplog: pytest.LogCaptureFixture
) -> None:
    number = await connected.ingest()
    not_json = Frame(
        method=DATA,
        headers=[("type", "event"), ("message_id", "m-bad"), ("sum", "1"), ("seq", "0")],
        payload=b"not json",
    )
    with caplog.at_level(logging.WARNING, logger="adapters.lark"):
        await lark_ws.send(b"\x0a\xff")  # cut short
        await lark_ws.send(Frame(method=CONTROL, headers=[("type", "ping")]))  # Lark's ping
        card = await lark_ws.push({"open_message_id": "om_1"}, kind="card")  # legacy callback
        await lark_ws.send(not_json)
        assert (await within(lark_ws.answer("m-bad"))).code == 500
        other = await lark_ws.push({"schema": "2.0", "header": {"event_type": "im.chat.x"}})
        assert (await within(lark_ws.answer(other))).code == 200  # not ours: nothing done
        clicked = await lark_ws.push(connected.click_doc("ack", number))
        assert (await within(lark_ws.answer(clicked))).data is not None
    assert card not in lark_ws.answers
    assert lark_ws.unknown_frames == []  # Lark's ping got no answer
    warned = [r.getMessage() for r in caplog.records]
    assert any("a frame was ignored" in m for m in warned)
    assert any("event m-bad refused" in m for m in warned)


async def test_pings_follow_the_interval_lark_sets(
    gateway: LarkGateway, lark_ws: FakeLarkWs
) -> None:
    """A LongConnection beside a webhook app's handling, with no floor under the interval."""
    lark_ws.client_config["PingInterval"] = 0.02
    async with aiohttp.ClientSession() as session:
        settings = gateway.client.app[LARK].settings
        connection = LongConnection(
            LarkApi(settings, session, timeout_s=5), gateway.client.app[LARK], session, ping_min_s=0
        )
        task = asyncio.create_task(connection.run())
        try:
            await within(lark_ws.wait_for(lambda: len(lark_ws.pings) >= 3))
            assert {p.service for p in lark_ws.pings} == {SERVICE_ID}
            lark_ws.pong_config = {"PingInterval": 3600, "ReconnectNonce": 5}
            await until(lambda: connection.config.ping_interval_s == 3600)
            assert connection.config.reconnect_nonce_s == 5
            pinged = len(lark_ws.pings)
            with pytest.raises(TimeoutError):  # one more ping may have been on its way
                await asyncio.wait_for(
                    lark_ws.wait_for(lambda: len(lark_ws.pings) > pinged + 1), 0.3
                )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await connection.close()


async def test_a_refused_app_is_logged_and_retried_slowly(
    aiohttp_client: Any,
    lark: FakeLark,
    lark_ws: FakeLarkWs,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = gateway_settings(
        tmp_path, lark, app_secret="not-the-app-secret", **LONG_CONNECTION_ONLY
    )
    with caplog.at_level(logging.WARNING, logger="adapters.lark"):
        async for gateway in build_gateway(settings)(aiohttp_client, lark):
            await within(until(lambda: "refused" in caplog.text))
            # The next try is a minute away: no loop hammering Lark (or the CPU) meanwhile.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(
                    lark_ws.wait_for(lambda: len(lark_ws.endpoint_calls) > 1), 0.3
                )
            assert not lark_ws.connected
            assert not gateway.client.app[LONG_CONNECTION].connected.is_set()
            await gateway.client.close()  # in the middle of its wait: it stops at once
    [refused] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert refused.levelno == logging.ERROR
    assert "10014 app secret invalid" in refused.getMessage()
    assert "lark.app_secret" in refused.getMessage()
    assert "not-the-app-secret" not in caplog.text
    assert lark_tasks() == []


async def test_it_keeps_trying_until_lark_lets_it_in(
    gateway: LarkGateway, lark_ws: FakeLarkWs, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused (the console not set up yet), then busy, then in: short waits for the test."""
    lark_ws.refuse_next(status=400, msg="app has not enabled long connection")
    lark_ws.refuse_next(1, msg="system busy")
    async with aiohttp.ClientSession() as session:
        settings = gateway.client.app[LARK].settings
        connection = LongConnection(
            LarkApi(settings, session, timeout_s=5),
            gateway.client.app[LARK],
            session,
            retry_min_s=0.01,
            retry_max_s=0.05,
        )
        task = asyncio.create_task(connection.run())
        try:
            with caplog.at_level(logging.WARNING, logger="adapters.lark"):
                await within(connection.connected.wait())
            assert len(lark_ws.endpoint_calls) == 3
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await connection.close()
    levels = [(r.levelno, "busy" in r.getMessage()) for r in caplog.records]
    assert levels == [(logging.ERROR, False), (logging.WARNING, True)]


async def test_stopping_the_app_closes_the_connection_and_leaves_no_task(
    aiohttp_client: Any,
    lark: FakeLark,
    lark_ws: FakeLarkWs,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = gateway_settings(tmp_path, lark, **LONG_CONNECTION_ONLY)
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(settings, clock=ManualClock(NOW), workers=False)
    )
    await within(lark_ws.wait_for(lambda: lark_ws.connected))
    connection = client.app[LONG_CONNECTION]
    with caplog.at_level(logging.WARNING):
        doc = {
            "schema": "2.0",
            "header": {"event_id": "ev-1", "event_type": "im.message.receive_v1"},
        }
        await lark_ws.push(doc)  # still being handled, perhaps, when the app stops
        await client.close()
        await within(lark_ws.wait_for(lambda: lark_ws.sockets_open == 0))
    assert not connection.connected.is_set()
    assert len(lark_ws.endpoint_calls) == 1  # no new connection was tried on the way out
    assert lark_tasks() == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_two_replicas_open_one_connection(
    aiohttp_client: Any, lark: FakeLark, lark_ws: FakeLarkWs
) -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    doc = settings_doc()
    lark_doc = lark_section(lark, **LONG_CONNECTION_ONLY)
    async with pg_schema(url) as schema:
        settings = make_settings(url, schema, lark=lark_doc, members=doc["members"])
        one = await aiohttp_client(create_app(settings, clock=ManualClock(NOW), workers=False))
        await within(lark_ws.wait_for(lambda: lark_ws.connected))
        two = await aiohttp_client(create_app(settings, clock=ManualClock(NOW), workers=False))
        # While one holds the lock, two keeps trying it and never connects.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(lark_ws.wait_for(lambda: lark_ws.connections > 1), 0.5)
        assert len(lark_ws.endpoint_calls) == 1
        assert not two.app[LONG_CONNECTION].connected.is_set()

        await one.close()  # replica one goes away: two takes over
        await within(lark_ws.wait_for(lambda: lark_ws.connections == 2 and lark_ws.connected))
        await within(two.app[LONG_CONNECTION].connected.wait())
        assert lark_ws.sockets_open == 1
        await two.close()
        await within(lark_ws.wait_for(lambda: lark_ws.sockets_open == 0))
