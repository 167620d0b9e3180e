"""A storm paging one WeCom member: the app's cap on messages to one member is kept (the fake
drops what goes past it, unannounced, as WeCom does, on the gateway's clock), and every card
arrives, each once. App cards go to members only, so nothing is merged: the cards wait."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.wecom.sender import WecomSender
from gateway.domain import JSONObject
from gateway.outbox import Job
from tests.adapters.storm import NUMBER, open_incidents, settle
from tests.adapters.wecom.conftest import ALICE, WecomGateway, gateway_settings
from tests.fakes.wecom import FakeWecom

# An app's messages to one member (访问频率限制, our platform notes §3.1), restated.
MEMBER_LIMITS = ((30, 60.0), (1000, 3600.0))


def numbers(wecom: FakeWecom) -> list[int]:
    """The incident each of alice's cards is about, in the order they arrived."""
    return [
        int(NUMBER.findall(card.sent["main_title"]["title"])[0]) for card in wecom.cards_of(ALICE)
    ]


async def test_a_storm_waits_for_the_members_cap_and_every_card_arrives(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    for count, per_s in MEMBER_LIMITS:
        wecom.limit(count, per_s)

    first = await open_incidents(gateway.client, gateway.dispatcher, 1, 30)
    second = await open_incidents(gateway.client, gateway.dispatcher, 31, 12)
    # The member's first 30 arrived at once; the rest wait for the cap.
    assert numbers(wecom) == first
    start = gateway.clock.now()
    await settle(gateway.client, gateway.dispatcher, gateway.clock)

    assert wecom.limited == 0  # WeCom never had to drop a message
    assert numbers(wecom) == [*first, *second]  # each once, none merged
    assert (gateway.clock.now() - start).total_seconds() > 60


def job(op: str, **destination: JSONObject | str) -> Job:
    return Job(1, 1, "wecom", dict(destination), {"op": op}, 1)


async def test_everything_to_a_member_counts_against_that_members_cap(
    tmp_path: Path, wecom: FakeWecom, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(tmp_path, wecom).wecom
    assert settings is not None
    sender = WecomSender(settings, http)
    card = sender.pace(job("post", dm=ALICE, member="alice"))
    assert card is not None
    assert (card.key, card.digest_after) == (f"wecom:member:{ALICE}", None)  # never merged
    for op in ("update", "reply"):
        assert sender.pace(job(op, chat=ALICE, message="task-1")) == card
    assert sender.pace(job("post", chat="wrcGroup", ref="x")) is None  # refused, not sent
    # Both published caps at once, with the outbox's margin: 30 a minute, 1,000 an hour.
    assert card.count <= 30
    assert card.count * (3600 // (card.per_s * 1.1) + 1) <= 1000
