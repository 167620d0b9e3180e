"""One replica at a time runs a single-connection job; another takes over when it dies."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway.leader import lock_key, run_as_single
from gateway.runtime import Runtime
from tests.support import make_settings, pg_schema, pg_url, running

WAIT_S = 10.0  # an upper bound for the test, never a pause


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("telegram-polling") == lock_key("telegram-polling")
    assert lock_key("telegram-polling") != lock_key("lark-long-connection")
    assert -(2**63) <= lock_key("x") < 2**63


async def test_on_sqlite_the_work_just_runs(tmp_path: Path) -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    async with running(make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db")) as rt:
        await asyncio.wait_for(run_as_single(rt, "job", work), WAIT_S)
    assert ran.is_set()


async def test_one_replica_holds_it_and_another_takes_over() -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    async with pg_schema(url) as schema:
        settings = make_settings(url, schema)
        async with running(settings) as one, running(settings) as two:
            holders: list[str] = []
            changed = asyncio.Event()

            def job(name: str) -> Callable[[], Coroutine[Any, Any, None]]:
                async def work() -> None:
                    holders.append(name)
                    changed.set()
                    await asyncio.Event().wait()  # runs until cancelled, like a poller

                return work

            def start(rt: Runtime, name: str) -> asyncio.Task[None]:
                return asyncio.create_task(
                    run_as_single(rt, "job", job(name), retry_s=0.05, check_s=0.05)
                )

            first = start(one, "one")
            await asyncio.wait_for(changed.wait(), WAIT_S)
            changed.clear()
            second = start(two, "two")
            # While "one" holds the lock, "two" keeps trying and never runs the job.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.shield(changed.wait()), 0.5)
            assert holders == ["one"]
            first.cancel()  # replica one dies: its lock connection goes with it
            await asyncio.wait_for(changed.wait(), WAIT_S)
            assert holders == ["one", "two"]
            second.cancel()
            await asyncio.gather(first, second, return_exceptions=True)
