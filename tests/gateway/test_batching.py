"""Group commit: concurrent requests share transactions yet behave as if each ran alone."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.batching import Batcher
from gateway.ingest.formats import parse
from gateway.ingest.service import ingest
from gateway.runtime import Runtime
from storage import repo
from tests.support import fixture, make_settings, running


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db")) as runtime:
        yield runtime


def group(n: int) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(fixture("alertmanager", "firing-2alerts.json"))
    body["groupKey"] = f'{{}}:{{g="{n}"}}'
    for i, alert in enumerate(body["alerts"]):
        alert["fingerprint"] = f"{n:08x}{i:08x}"
    return body


async def test_concurrent_payloads_of_one_group_open_one_incident(rt: Runtime) -> None:
    integ = rt.settings.integrations["prometheus"]
    batch = parse("alertmanager", group(7), integ)
    results = await asyncio.gather(*(ingest(rt, "prometheus", batch) for _ in range(30)))
    assert sum(len(r.opened) for r in results) == 1
    assert {n for r in results for n in r.incidents} == {1}
    async with rt.db.read() as conn:
        _incidents, total = await repo.list_incidents(conn)
        detail = await repo.load_incident(conn, 1, details=True)
    assert total == 1
    assert detail is not None
    assert detail.alert_count == 2
    assert sorted(a.count for a in detail.alerts) == [30, 30]


async def test_concurrent_distinct_groups_each_open_their_own(rt: Runtime) -> None:
    integ = rt.settings.integrations["prometheus"]
    batches = [parse("alertmanager", group(n), integ) for n in range(40)]
    results = await asyncio.gather(*(ingest(rt, "prometheus", b) for b in batches))
    assert sorted(n for r in results for n in r.opened) == list(range(1, 41))
    async with rt.db.read() as conn:
        for number in (1, 40):
            detail = await repo.load_incident(conn, number, details=True)
            assert detail is not None
            assert len(detail.alerts) == 2
            assert [e.kind for e in detail.timeline] == ["triggered"]


async def test_fire_and_resolve_in_one_group_commit_keep_their_order(rt: Runtime) -> None:
    integ = rt.settings.integrations["prometheus"]
    firing = parse("alertmanager", fixture("alertmanager", "firing-2alerts.json"), integ)
    resolved = parse("alertmanager", fixture("alertmanager", "resolved.json"), integ)
    first, second, third = await asyncio.gather(
        ingest(rt, "prometheus", firing),
        ingest(rt, "prometheus", resolved),
        ingest(rt, "prometheus", firing),
    )
    assert first.opened == [1]
    # The resolve was queued before the incident existed in the database and still finds its
    # alerts; the re-fire right behind it finds them too, so the incident stays open, as
    # two flaps in a row should.
    assert second.ignored == 0
    assert third.opened == []
    async with rt.db.read() as conn:
        detail = await repo.load_incident(conn, 1, details=True)
    assert detail is not None
    assert detail.status.value == "triggered"
    assert [(a.status, a.count) for a in detail.alerts] == [("firing", 2), ("firing", 2)]


async def test_a_failing_group_is_retried_item_by_item() -> None:
    seen: list[list[int]] = []

    async def process(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        if 13 in items and len(items) > 1:
            raise RuntimeError("storage hiccup")
        return [ValueError("refused") if i == 13 else i * 2 for i in items]

    batcher: Batcher[int, int] = Batcher(process)
    outcomes = await asyncio.gather(
        *(batcher.submit(i) for i in (1, 13, 3)), return_exceptions=True
    )
    await batcher.close()
    assert outcomes[0] == 2
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2] == 6
    assert seen[0] == [1, 13, 3]
    assert [1] in seen
    assert [3] in seen


async def test_background_work_waits_for_requests_being_written(rt: Runtime) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(items: Sequence[int]) -> list[int | Exception]:
        entered.set()
        await release.wait()
        return list(items)

    batcher = rt.batcher("slow", slow)
    submitted = asyncio.create_task(batcher.submit(1))
    await entered.wait()
    assert not batcher.idle.is_set()
    waiting = asyncio.create_task(rt.quiet(max_wait_s=30))
    await asyncio.sleep(0)
    assert not waiting.done()  # a request is being written: notices wait
    release.set()
    assert await submitted == 1
    async with asyncio.timeout(5):
        await waiting  # ... and go as soon as it is committed
    assert batcher.idle.is_set()
    async with asyncio.timeout(5):
        await rt.quiet(max_wait_s=30)  # nothing in flight: no wait at all
