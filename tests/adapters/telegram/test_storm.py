"""A storm in one Telegram group: the group's 20 messages a minute and a private chat's one a
second are kept (the fake enforces Telegram's limits on the gateway's clock), the waiting cards
go into one digest card that is edited in place as it grows, and every incident is shown once."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.telegram.sender import TelegramSender
from gateway.domain import JSONObject
from gateway.outbox import Job
from tests.adapters.storm import HEADLINE, NUMBER, open_incidents, settle, shown
from tests.adapters.telegram.conftest import ALICE, GROUP, TelegramGateway, gateway_settings
from tests.fakes.telegram import FakeTelegram, Message

# The Bot API's limits (Bot FAQ, our platform notes §3), restated rather than imported: 20
# messages a minute to a group; about one a second to a private chat, short bursts allowed
# (modelled as 3 in any 3 s).
GROUP_LIMIT = (20, 60.0)
PRIVATE_LIMIT = (3, 3.0)


def digests(telegram: FakeTelegram) -> list[Message]:
    return [m for m in telegram.posts(GROUP) if HEADLINE in m.shown]


def seen(telegram: FakeTelegram) -> dict[int, int]:
    cards = [m.shown for m in telegram.cards(GROUP)]
    return dict(shown(cards, (m.shown for m in digests(telegram))))


async def test_a_storm_goes_into_one_digest_card_edited_in_place(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    clock = gateway.clock
    telegram.limit(*GROUP_LIMIT, clock=lambda: clock.now().timestamp())
    telegram.limit(*PRIVATE_LIMIT, private=True, clock=lambda: clock.now().timestamp())

    first = await open_incidents(gateway.client, gateway.dispatcher, 1, 30)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(telegram)) == set(first)
    [digest] = digests(telegram)
    # The first cards went alone; the digest took the rest of the storm.
    assert 5 <= len(NUMBER.findall(digest.shown)) < 30
    assert digest.keyboard is None  # nothing to press: each incident has its page

    # More incidents while the digest is young: added to the same message, not a new one.
    second = await open_incidents(gateway.client, gateway.dispatcher, 31, 12)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(telegram)) == {*first, *second}
    assert digests(telegram) == [digest]
    assert digest.edits

    assert telegram.limited == 0  # Telegram never had to refuse a message
    assert all(n == 1 for n in seen(telegram).values()), seen(telegram)
    # Alice was paged for each, about one card a second in her private chat.
    assert len(telegram.cards(ALICE)) == 42


def job(op: str, **destination: JSONObject | str) -> Job:
    return Job(1, 1, "telegram", dict(destination), {"op": op}, 1)


async def test_a_chats_cards_edits_and_replies_share_its_cap(
    tmp_path: Path, telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(tmp_path, telegram).telegram
    assert settings is not None
    sender = TelegramSender(settings, http)
    group = sender.pace(job("post", chat=str(GROUP), ref="services.default.notify[0]"))
    assert group is not None
    assert (group.key, group.digest_after) == (f"telegram:chat:{GROUP}", 5)
    for op in ("update", "reply", "digest"):  # one pace a key: the outbox keeps one
        assert sender.pace(job(op, chat=str(GROUP), message="7")) == group
    private = sender.pace(job("post", dm=str(ALICE), member="alice"))
    assert private is not None
    assert (private.key, private.digest_after) == (f"telegram:chat:{ALICE}", None)
    assert sender.pace(job("update", chat=str(ALICE), message="3")) == private
    assert sender.pace(job("reply", chat=str(ALICE), message="3", reader="alice")) == private
    off = gateway_settings(tmp_path, telegram, dm_assignees=False).telegram
    assert off is not None
    assert TelegramSender(off, http).pace(job("post", dm=str(ALICE))) is None  # nothing sent
