"""A storm in one Teams channel: the Bot Connector's limits per conversation are kept (the
fake enforces all of them on the gateway's clock, in the channel and in a member's 1:1 chat),
the waiting cards go into one digest card that is updated in place as it grows, and every
incident is shown once."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.teams.sender import TeamsSender
from gateway.domain import JSONObject
from gateway.outbox import Job
from tests.adapters.storm import HEADLINE, NUMBER, open_incidents, settle, shown
from tests.adapters.teams.conftest import ALICE, TeamsGateway, gateway_settings
from tests.fakes.teams import CHANNEL, FakeTeams, Posted

# Per bot per conversation (Microsoft's rate-limit page, our platform notes §2), restated.
CONVERSATION_LIMITS = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))


def digests(teams: FakeTeams) -> list[Posted]:
    return [p for p in teams.cards(CHANNEL) if HEADLINE in p.text]


def seen(teams: FakeTeams) -> dict[int, int]:
    cards = [p.text for p in teams.cards(CHANNEL) if HEADLINE not in p.text]
    return dict(shown(cards, (p.text for p in digests(teams))))


async def test_a_storm_goes_into_one_digest_card_updated_in_place(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    clock = gateway.clock
    for count, per_s in CONVERSATION_LIMITS:
        teams.limit(count, per_s, clock=lambda: clock.now().timestamp())

    first = await open_incidents(gateway.client, gateway.dispatcher, 1, 30)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(teams)) == set(first)
    [digest] = digests(teams)
    # The first cards went alone; the digest took the rest of the storm.
    assert 5 <= len(NUMBER.findall(digest.text)) < 30
    assert not digest.verbs()  # nothing to press: each incident has its page

    # More incidents while the digest is young: added to the same card, not a new one.
    second = await open_incidents(gateway.client, gateway.dispatcher, 31, 12)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(teams)) == {*first, *second}
    assert digests(teams) == [digest]
    assert digest.updates

    assert teams.limited == 0  # Teams never had to refuse a call
    assert all(n == 1 for n in seen(teams).values()), seen(teams)
    # Alice was paged for each, in her 1:1 chat.
    assert len(teams.cards(teams.personal_chat(ALICE))) == 42


def job(op: str, **destination: JSONObject | str) -> Job:
    return Job(1, 1, "teams", dict(destination), {"op": op}, 1)


async def test_every_call_counts_against_its_conversation(
    tmp_path: Path, teams: FakeTeams, http: aiohttp.ClientSession
) -> None:
    sender = TeamsSender(gateway_settings(tmp_path, teams), http)
    channel = sender.pace(job("post", chat=teams.chat(CHANNEL), ref="x"))
    assert channel is not None
    assert (channel.key, channel.digest_after) == (f"teams:chat:{CHANNEL}", 5)
    for op in ("update", "reply", "digest"):  # a reply's thread is the channel's
        assert sender.pace(job(op, chat=teams.chat(CHANNEL), message="1")) == channel
    dm = sender.pace(job("post", dm=ALICE.aad_object_id, member="alice"))
    assert dm is not None
    assert (dm.key, dm.digest_after) == ("teams:dm:alice", None)
    assert sender.pace(job("reply", chat="x|a:1", message="2", reader="alice")) == dm
    # An update in a 1:1 chat names only the chat: counted there, at the same half pace.
    chat = teams.chat(teams.personal_chat(ALICE))
    update = sender.pace(job("update", chat=chat, message="2"))
    assert update is not None
    assert update.key == f"teams:chat:{teams.personal_chat(ALICE)}"
    assert (update.count, update.per_s, update.digest_after) == (dm.count, dm.per_s, None)
    # Together they keep to the hour's 1,800, with the outbox's margin.
    assert 2 * dm.count * (3600 // (dm.per_s * 1.1) + 1) <= 1800
