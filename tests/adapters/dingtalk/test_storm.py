"""A storm in one DingTalk group: the robot's 20 messages a minute to a chat (a group, or one
person) and the app's API rate for card updates are kept (the fake enforces them on the
gateway's clock), the waiting cards go into one digest card that is replaced in place as it
grows, and every incident is shown once."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.dingtalk.sender import DingtalkSender
from gateway.domain import JSONObject
from gateway.outbox import Job
from tests.adapters.dingtalk.conftest import ALICE, GROUP, DingtalkGateway, gateway_settings
from tests.adapters.storm import HEADLINE, NUMBER, open_incidents, settle, shown
from tests.fakes.dingtalk import Card, FakeDingtalk

# DingTalk's robot cap per chat and the app's API rate (standard edition), from our platform
# notes §2.4, restated rather than imported.
CHAT_LIMIT = (20, 60.0)
UPDATE_LIMIT = (20, 1.0)


def title(card: Card) -> str:
    return str(card.data["header"]["title"]["text"])


def digests(dingtalk: FakeDingtalk) -> list[Card]:
    return [c for c in dingtalk.cards_in(GROUP) if HEADLINE in title(c)]


def seen(dingtalk: FakeDingtalk) -> dict[int, int]:
    cards = [title(c) for c in dingtalk.cards_in(GROUP) if HEADLINE not in title(c)]
    return dict(shown(cards, (c.text() for c in digests(dingtalk))))


async def test_a_storm_goes_into_one_digest_card_replaced_in_place(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    clock = gateway.clock

    def now() -> float:
        return clock.now().timestamp()

    dingtalk.limit("chat", *CHAT_LIMIT, clock=now)
    dingtalk.limit("update", *UPDATE_LIMIT, clock=now)

    first = await open_incidents(gateway.client, gateway.dispatcher, 1, 30)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(dingtalk)) == set(first)
    [digest] = digests(dingtalk)
    # The first cards went alone; the digest took the rest of the storm.
    assert 5 <= len(NUMBER.findall(digest.text())) < 30
    assert not digest.button_ids()  # nothing to press: each incident has its page

    # More incidents while the digest is young: added to the same card, not a new one.
    second = await open_incidents(gateway.client, gateway.dispatcher, 31, 12)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(dingtalk)) == {*first, *second}
    assert digests(dingtalk) == [digest]
    assert digest.updates

    assert dingtalk.limited == 0  # DingTalk never had to refuse a call
    assert all(n == 1 for n in seen(dingtalk).values()), seen(dingtalk)
    # Alice was paged for each, in her chat with the robot.
    assert len(dingtalk.cards_to(ALICE)) == 42


def job(op: str, **destination: JSONObject | str) -> Job:
    return Job(1, 1, "dingtalk", dict(destination), {"op": op}, 1)


async def test_what_the_robot_says_counts_against_its_chat_and_updates_against_the_app(
    tmp_path: Path, dingtalk: FakeDingtalk, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(tmp_path, dingtalk).dingtalk
    assert settings is not None
    sender = DingtalkSender(settings, http)
    group = sender.pace(job("post", chat=GROUP, ref="services.default.notify[0]"))
    assert group is not None
    assert (group.key, group.digest_after) == (f"dingtalk:chat:{GROUP}", 5)
    for op in ("reply", "digest"):
        assert sender.pace(job(op, chat=GROUP, message="ackgate-1-1")) == group
    person = sender.pace(job("post", dm=ALICE, member="alice"))
    assert person is not None
    assert (person.key, person.digest_after) == (f"dingtalk:chat:user:{ALICE}", None)
    assert sender.pace(job("reply", chat=f"user:{ALICE}", message="ackgate-2-2")) == person
    update = sender.pace(job("update", chat=GROUP, message="ackgate-1-1"))
    assert update is not None
    assert (update.key, update.digest_after) == ("dingtalk:update", None)
