"""The Stream connection's life: started and stopped with the app, reconnecting after failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.dingtalk.api import DingtalkApi
from adapters.dingtalk.handlers import HANDLERS
from adapters.dingtalk.inbound import SETTINGS
from adapters.dingtalk.inbound import add_routes as add_dingtalk_routes
from adapters.dingtalk.stream import STREAM, StreamConnection
from gateway.clock import ManualClock
from gateway.web.app import create_app
from tests.adapters.dingtalk.conftest import (
    NOW,
    WAIT_S,
    DingtalkGateway,
    gateway_settings,
)
from tests.fakes.dingtalk import FakeDingtalk


async def test_stopping_the_app_closes_the_stream(
    dingtalk: FakeDingtalk, aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = gateway_settings(tmp_path, dingtalk)
    assert settings.dingtalk is not None
    app = create_app(settings, clock=ManualClock(NOW), workers=False)
    if SETTINGS not in app:
        add_dingtalk_routes(app, settings.dingtalk)
    client = await aiohttp_client(app)
    connection = app[STREAM]
    async with asyncio.timeout(WAIT_S):
        await connection.connected.wait()
    assert dingtalk.connected

    with caplog.at_level(logging.INFO, logger="adapters.dingtalk"):
        await client.close()
        async with asyncio.timeout(WAIT_S):
            await dingtalk.wait_for(lambda: dingtalk.sockets_open == 0)

    assert not connection.connected.is_set()
    assert len(dingtalk.subscriptions) == 1  # no new connection was tried on the way out
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_the_connection_is_retried_until_dingtalk_answers(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    """A StreamConnection with no wait between tries, beside an HTTP-mode app's handlers."""
    app = http_gateway.client.app
    dingtalk.fail_next(503, path="/connections/open")
    dingtalk.fail_next(401, "invalidClientIdOrSecret", path="/connections/open")
    async with aiohttp.ClientSession() as session:
        assert app[SETTINGS] is not None
        connection = StreamConnection(
            DingtalkApi(app[SETTINGS], session, timeout_s=5),
            app[HANDLERS],
            session,
            retry_min_s=0.0,
            retry_max_s=0.0,
        )
        task = asyncio.create_task(connection.run())
        try:
            async with asyncio.timeout(WAIT_S):
                await connection.connected.wait()
            assert len(dingtalk.called("/connections/open")) == 3
            message_id = await dingtalk.push(dingtalk.ping("after-retries"))
            async with asyncio.timeout(WAIT_S):
                assert (await dingtalk.response(message_id))["code"] == 200
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await connection.close()
    assert task.cancelled()
