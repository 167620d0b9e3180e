"""A storm in one Feishu group chat: the chat's 5 messages a second (and a person's 5) and the
app's PATCH rate are kept (the fake enforces Feishu's limits on the gateway's clock), the
waiting cards go into one digest card that is updated in place as it grows, and every
incident is shown once."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.lark.sender import LarkSender
from gateway.domain import JSONObject
from gateway.outbox import Job
from tests.adapters.lark.conftest import ALICE, CHAT, LarkGateway, gateway_settings
from tests.adapters.storm import HEADLINE, NUMBER, open_incidents, settle, shown
from tests.fakes.lark import FakeLark, Message

# Feishu's limits (im/v1/messages create and patch, our platform notes §1.1), restated.
CHAT_LIMIT = (5, 1.0)
PATCH_LIMITS = ((50, 1.0), (1000, 60.0))


def title(message: Message) -> str:
    return str(message.content["header"]["title"]["content"])


def digests(lark: FakeLark) -> list[Message]:
    return [m for m in lark.posts(CHAT) if HEADLINE in title(m)]


def seen(lark: FakeLark) -> dict[int, int]:
    cards = [title(m) for m in lark.posts(CHAT) if m not in digests(lark)]
    return dict(shown(cards, (m.text() for m in digests(lark))))


async def test_a_storm_goes_into_one_digest_card_updated_in_place(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    clock = gateway.clock

    def now() -> float:
        return clock.now().timestamp()

    lark.limit("chat", *CHAT_LIMIT, clock=now)
    for count, per_s in PATCH_LIMITS:
        lark.limit("patch", count, per_s, clock=now)

    first = await open_incidents(gateway.client, gateway.dispatcher, 1, 30)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(lark)) == set(first)
    [digest] = digests(lark)
    # The first cards went alone; the digest took the rest of the storm.
    assert 5 <= len(NUMBER.findall(digest.text())) < 30

    # More incidents while the digest is young: added to the same card, not a new one.
    second = await open_incidents(gateway.client, gateway.dispatcher, 31, 12)
    await settle(gateway.client, gateway.dispatcher, clock)
    assert set(seen(lark)) == {*first, *second}
    assert digests(lark) == [digest]
    assert digest.updates

    assert lark.limited == 0  # Feishu never had to refuse a call
    assert all(n == 1 for n in seen(lark).values()), seen(lark)
    # Alice was paged for each, in her DM, as fast as a person's 5 a second allow.
    assert len(lark.posts(FakeLark.p2p_chat(ALICE))) == 42


def job(op: str, **destination: JSONObject | str) -> Job:
    return Job(1, 1, "lark", dict(destination), {"op": op}, 1)


async def test_messages_count_against_their_chat_and_updates_against_the_app(
    tmp_path: Path, lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    settings = gateway_settings(tmp_path, lark).lark
    assert settings is not None
    sender = LarkSender(settings, http)
    chat = sender.pace(job("post", chat=CHAT, ref="services.default.notify[0]"))
    assert chat is not None
    assert (chat.key, chat.digest_after) == (f"lark:chat:{CHAT}", 5)
    for op in ("reply", "digest"):
        assert sender.pace(job(op, chat=CHAT, message="om_1")) == chat
    dm = sender.pace(job("post", dm=ALICE, member="alice"))
    assert dm is not None
    assert (dm.key, dm.digest_after) == ("lark:dm:alice", None)
    # A reply under alice's card is in her DM: it shares her cap, whatever the chat's id.
    assert sender.pace(job("reply", chat="oc_p2p_x", message="om_2", reader="alice")) == dm
    update = sender.pace(job("update", chat=CHAT, message="om_1"))
    assert update is not None
    assert (update.key, update.digest_after) == ("lark:update", None)
    assert sender.pace(job("update", chat="oc_p2p_x", message="om_2")) == update
