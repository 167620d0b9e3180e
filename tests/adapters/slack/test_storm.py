"""A storm in one channel: Slack's per-channel limit is kept (the fake enforces it), waiting
cards go into one digest card that is added to in place, and every incident is shown once."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import sqlalchemy as sa

from gateway.clock import ManualClock
from gateway.web.keys import RUNTIME
from storage import tables as t
from tests.adapters.slack.conftest import CHANNEL, SlackGateway, text_of
from tests.adapters.storm import open_incidents
from tests.fakes.slack import FakeSlack, Message

NUMBER = re.compile(r"#(\d+) ")


def digests(slack: FakeSlack) -> list[Message]:
    return [m for m in slack.posts(CHANNEL) if "faster than cards" in m.text]


def shown(slack: FakeSlack) -> Counter[int]:
    """How many messages in the channel show each incident: its own card or a digest line."""
    seen: Counter[int] = Counter()
    for message in slack.posts(CHANNEL):
        if message in digests(slack):
            seen.update(int(n) for n in NUMBER.findall(text_of(message.blocks)))
        else:
            header = message.blocks[0]["text"]["text"]
            seen[int(NUMBER.findall(header + " ")[0])] += 1
    return seen


async def settle(gateway: SlackGateway, clock: ManualClock) -> None:
    """Let the gateway's time pass, a second at a time, until nothing is left to send."""
    rt = gateway.client.app[RUNTIME]
    d = t.deliveries.c
    for _ in range(200):
        for _ in range(5):
            async with rt.db.read() as conn:
                waiting = await conn.scalar(
                    sa.select(sa.func.count()).where(d.state.in_(("pending", "sending")))
                )
            if not waiting:
                return
            rt.wake_outbox()
            await asyncio.sleep(0.02)
        async with rt.db.read() as conn:  # time moves between sends, not during one
            sending = await conn.scalar(sa.select(sa.func.count()).where(d.state == "sending"))
        if not sending:
            clock.advance(seconds=1)
    async with rt.db.read() as conn:
        rows = await conn.execute(
            sa.select(d.id, d.channel, d.state, d.due_at, d.payload["op"], d.last_error).where(
                d.state.in_(("pending", "sending"))
            )
        )
        left = rows.all()
    raise AssertionError(f"the outbox never caught up at {clock.now()}: {left[:5]}")


async def test_a_storm_goes_into_one_digest_card_added_to_in_place(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    clock = gateway.client.app[RUNTIME].clock
    assert isinstance(clock, ManualClock)
    # Slack: about one a second per channel, short bursts allowed; time is the gateway's.
    slack.limit("chat.postMessage", 3, 3.0, clock=lambda: clock.now().timestamp())

    first = await open_incidents(gateway.client, None, 1, 30)
    await settle(gateway, clock)
    assert set(shown(slack)) == set(first)
    [digest] = digests(slack)
    # The burst allowance went to the first cards; the digest took the rest of the storm.
    assert len(NUMBER.findall(text_of(digest.blocks))) >= 20

    # More incidents while the digest is young: added to the same card, not a new one.
    second = await open_incidents(gateway.client, None, 31, 12)
    await settle(gateway, clock)
    assert set(shown(slack)) == {*first, *second}
    assert digests(slack) == [digest]
    assert digest.updates

    # An incident that is only in the digest is acted on: the digest is not turned into its card.
    only_digest = max(int(n) for n in NUMBER.findall(text_of(digest.blocks)))
    r = await gateway.client.post(
        f"/v1/incidents/{only_digest}/actions",
        json={"verb": "ack"},
        headers={"Authorization": "Bearer example-api-token"},
    )
    assert r.status == 200, await r.text()
    before = len(digest.updates)
    await settle(gateway, clock)
    assert len(digest.updates) == before
    assert "faster than cards" in digest.text

    # Ten minutes on, a new storm starts a new digest.
    clock.advance(seconds=660)
    third = await open_incidents(gateway.client, None, 43, 12)
    await settle(gateway, clock)
    assert set(shown(slack)) == {*first, *second, *third}
    assert len(digests(slack)) == 2

    assert slack.limited == 0  # Slack never had to refuse a post
    assert all(n == 1 for n in shown(slack).values()), shown(slack)
