"""A storm for the chat apps' storm tests: many incidents opened one after another while the
outbox (driven by hand) keeps up, and time moved only when nothing can be sent before later."""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from gateway.clock import ManualClock
from gateway.outbox import Dispatcher
from gateway.web.keys import RUNTIME
from storage import tables as t
from tests.support import fixture

INGEST = {"Authorization": "Bearer example-token"}
NUMBER = re.compile(r"(?<!&)#(\d+)")  # "#42", not an entity such as "&#96;"
HEADLINE = "faster than cards"  # in every digest card's headline (cards.build, English)
SETTLE_MAX_S = 3600.0  # of the gateway's time: a storm that takes longer is a failure
STEPS_MAX = 1000


async def drain(dispatcher: Dispatcher) -> None:
    """Send everything that is due now, as the outbox would before time moves on."""
    while await dispatcher.run_once():
        pass


async def open_incidents(
    client: TestClient[Any, Any], dispatcher: Dispatcher | None, first: int, count: int
) -> list[int]:
    """``count`` distinct incidents (one Alertmanager group each), the outbox (driven by
    hand, when ``dispatcher`` is given) keeping up after each; their numbers."""
    numbers = []
    for i in range(first, first + count):
        body: dict[str, Any] = copy.deepcopy(fixture("alertmanager", "firing.json"))
        body["groupKey"] = f'{{}}:{{alertname="Storm{i}"}}'
        for alert in body["alerts"]:
            alert["labels"]["alertname"] = f"Storm{i}"
            alert["fingerprint"] = f"storm{i:012d}"
        r = await client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        numbers.extend((await r.json())["opened"])
        if dispatcher is not None:
            await drain(dispatcher)
    return numbers


async def settle(client: TestClient[Any, Any], dispatcher: Dispatcher, clock: ManualClock) -> None:
    """Send everything there is to send, moving the gateway's time to the next delivery due
    whenever nothing is due now (the caps hold the rest back until their windows free)."""
    rt = client.app[RUNTIME]
    d = t.deliveries.c
    start = clock.now()
    for _ in range(STEPS_MAX):
        await drain(dispatcher)
        async with rt.db.read() as conn:
            due = await conn.scalar(
                sa.select(sa.func.min(d.due_at)).where(d.state.in_(("pending", "sending")))
            )
        if due is None:
            return
        due = due if due.tzinfo is not None else due.replace(tzinfo=UTC)
        if due - start > timedelta(seconds=SETTLE_MAX_S):
            break
        if due > clock.now():
            clock.advance(seconds=(due - clock.now()).total_seconds() + 0.001)
        else:
            clock.advance(seconds=0.1)  # due, yet nothing was claimed: leased; let it run out
    raise AssertionError(f"the outbox never caught up: {clock.now() - start} of the gateway's time")


def shown(cards: Iterable[str], digests: Iterable[str]) -> Counter[int]:
    """How many messages show each incident: ``cards`` are what each card says (its title,
    "#42 …", first), ``digests`` what each digest card says."""
    seen: Counter[int] = Counter()
    for text in cards:
        seen[int(NUMBER.findall(text)[0])] += 1
    for text in digests:
        seen.update(int(n) for n in NUMBER.findall(text))
    return seen
