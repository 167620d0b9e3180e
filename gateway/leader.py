"""Work that only one replica may do at a time (a chat platform's single connection: Telegram
long polling, the Lark long connection, DingTalk Stream): a PostgreSQL advisory lock held on
its own connection, taken over by another replica when the holder dies.

On SQLite there is one process, so the work simply runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import sqlalchemy as sa

from gateway.runtime import Runtime

log = logging.getLogger(__name__)

RETRY_S = 5.0  # how often a waiting replica tries to take the lock
CHECK_S = 15.0  # how often the holder checks that its lock connection still lives


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.sha256(f"ackgate:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def run_as_single(
    rt: Runtime,
    name: str,
    work: Callable[[], Coroutine[Any, Any, None]],
    *,
    retry_s: float = RETRY_S,
    check_s: float = CHECK_S,
) -> None:
    """Run ``work`` whenever this replica holds lock ``name``, until cancelled.

    If the lock's connection breaks (the database restarted, a network blip) the work is
    cancelled, because another replica may take over; it restarts once the lock is back.
    """
    if rt.db.dialect != "postgresql":
        await work()
        return
    key = lock_key(name)
    while True:
        try:
            async with rt.db.writer.connect() as conn:
                got = (
                    await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
                ).scalar()
                await conn.commit()
                if not got:
                    await asyncio.sleep(retry_s)
                    continue
                log.info("this replica now runs %s", name)
                task: asyncio.Task[None] = asyncio.create_task(work(), name=f"single:{name}")
                try:
                    while not task.done():
                        done, _ = await asyncio.wait({task}, timeout=check_s)
                        if not done:
                            await conn.execute(sa.text("SELECT 1"))
                            await conn.commit()
                    task.result()  # work ended by itself: its error, if any, surfaces here
                    return
                finally:
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    with contextlib.suppress(Exception):
                        await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        await conn.commit()
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            log.warning("lock for %s lost (%s); trying again in %.0fs", name, exc, retry_s)
            await asyncio.sleep(retry_s)
