"""The background work: the outbox dispatcher and the escalation timers, owned by the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import JSONObject
from gateway.fallback import Failure, after_failures
from gateway.notices import catch_up
from gateway.outbox import Dispatcher, OnFailed
from gateway.runtime import Runtime
from gateway.timers import BATCH, run_due

# Escalation steps fire within this long of their time (a due check is two index lookups).
TIMER_INTERVAL_S = 1.0
# How long notices may wait for a burst of requests to be written first.
YIELD_MAX_S = 0.25


def fallback_hook(rt: Runtime) -> OnFailed:
    """What the outbox calls with pages that failed for good: reach those people otherwise."""

    async def on_failed(
        conn: AsyncConnection,
        lost: Sequence[tuple[int, int, str, JSONObject, JSONObject, str]],
        now: datetime,
    ) -> bool:
        return await after_failures(conn, rt.settings, [Failure(*f) for f in lost], now)

    return on_failed


async def run_all_due(rt: Runtime) -> int:
    """Every step that is due, a batch at a time, letting requests go first in between: in
    a storm, the thousandth incident's escalation is as punctual as the first one's."""
    total = 0
    while True:
        moved = await run_due(rt)
        total += moved
        if moved < BATCH:
            return total
        await rt.quiet(YIELD_MAX_S)


@asynccontextmanager
async def background(rt: Runtime) -> AsyncIterator[Dispatcher]:
    """Run the dispatcher and the timers until the block ends."""
    from adapters.registry import build_senders  # noqa: PLC0415 - adapters load lazily

    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=rt.settings.outbox.send_timeout_s)
    )

    async def on_posted(
        conn: AsyncConnection, cards: Sequence[tuple[JSONObject, JSONObject]], now: datetime
    ) -> bool:
        return await catch_up(conn, rt.settings, cards, now)

    dispatcher = Dispatcher(
        rt.db,
        build_senders(rt.settings, session),
        rt.settings.outbox,
        rt.clock,
        rt.metrics,
        on_posted=on_posted,
        on_failed=fallback_hook(rt),
        yield_to=lambda: rt.quiet(YIELD_MAX_S),
    )
    task = asyncio.create_task(dispatcher.run(), name="outbox")
    scheduler = AsyncIOScheduler()
    scheduler.add_job(
        run_all_due,
        "interval",
        args=[rt],
        seconds=TIMER_INTERVAL_S,
        max_instances=1,
        coalesce=True,
        id="timers",
    )
    scheduler.start()
    try:
        yield dispatcher
    finally:
        scheduler.shutdown(wait=False)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await session.close()
