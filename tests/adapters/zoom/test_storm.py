"""A storm in one Zoom channel: the account's limit for chatbot messages (sends and edits
together: Pro's 20 a second, Free's 2 a second and 2,000 a day) is kept (the fake enforces
it on the gateway's clock), the waiting cards go into one digest card that is edited in
place as it grows, and every incident is shown once."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.zoom.sender import Plan, ZoomSender
from gateway.domain import JSONObject
from gateway.notices import catch_up
from gateway.outbox import Cap, Dispatcher, Job
from gateway.web.keys import RUNTIME
from tests.adapters.storm import HEADLINE, NUMBER, open_incidents, settle, shown
from tests.adapters.zoom.conftest import ALICE, CHANNEL, ZoomGateway, zoom_settings
from tests.fakes.zoom import (
    CLIENT_ID,
    CLIENT_SECRET,
    DAILY_LIMITED,
    PER_SECOND_LIMITED,
    FakeZoom,
    Message,
)

# Zoom's limits for "Medium" calls by plan (developers.zoom.us/docs/api/rate-limits),
# restated rather than imported: (a second, a day).
LIMITS: dict[Plan, tuple[int, int | None]] = {"pro": (20, None), "free": (2, 2_000)}
MESSAGES = "/v2/im/chat/messages"


def head(message: Message) -> str:
    return str(message.content.get("head", {}).get("text", ""))


def digests(zoom: FakeZoom) -> list[Message]:
    return [m for m in zoom.posts(CHANNEL) if HEADLINE in head(m)]


def seen(zoom: FakeZoom) -> dict[int, int]:
    cards = [head(m) for m in zoom.cards(CHANNEL)]
    return dict(shown(cards, (m.text() for m in digests(zoom))))


@pytest.fixture(params=list(LIMITS))
async def storm(
    request: pytest.FixtureRequest, gateway: ZoomGateway, http: aiohttp.ClientSession
) -> ZoomGateway:
    """The gateway, its outbox sending with a plan's limits, and the fake keeping them."""
    plan: Plan = request.param
    rt = gateway.client.app[RUNTIME]
    settings = rt.settings
    assert settings.zoom is not None

    async def on_posted(conn: AsyncConnection, cards: Any, now: datetime) -> bool:
        return await catch_up(conn, settings, cards, now)  # as gateway.background wires it

    sender = ZoomSender(settings.zoom, http, members=settings.members, plan=plan)
    gateway.dispatcher = Dispatcher(
        rt.db, {"zoom": sender}, settings.outbox, rt.clock, rt.metrics, on_posted=on_posted
    )
    per_second, per_day = LIMITS[plan]
    gateway.fake.limit(per_second, per_day, clock=lambda: gateway.clock.now().timestamp())
    return gateway


async def test_a_storm_goes_into_one_digest_card_edited_in_place(storm: ZoomGateway) -> None:
    zoom, clock, dispatcher = storm.fake, storm.clock, storm.dispatcher

    first = await open_incidents(storm.client, dispatcher, 1, 30)
    await settle(storm.client, dispatcher, clock)
    assert set(seen(zoom)) == set(first)
    [digest] = digests(zoom)
    # The first cards went alone; the digest took the rest of the storm.
    assert 5 <= len(NUMBER.findall(digest.text())) < 30
    assert digest.buttons() == []  # nothing to press: each incident has its page

    # More incidents while the digest is young: added to the same message, not a new one.
    second = await open_incidents(storm.client, dispatcher, 31, 12)
    await settle(storm.client, dispatcher, clock)
    assert set(seen(zoom)) == {*first, *second}
    assert digests(zoom) == [digest]
    assert digest.edits

    assert zoom.limited == 0  # Zoom never had to refuse a call
    assert all(n == 1 for n in seen(zoom).values()), seen(zoom)
    # Alice was paged for each, in her DM with the bot, as fast as the account allows.
    assert len(zoom.cards(ALICE)) == 42


def job(op: str, **destination: JSONObject | str) -> Job:
    return Job(1, 1, "zoom", dict(destination), {"op": op}, 1)


async def test_each_kind_of_send_counts_against_its_key_and_the_account(
    zoom: FakeZoom, http: aiohttp.ClientSession
) -> None:
    sender = ZoomSender(zoom_settings(zoom), http)  # Pro's limits unless told
    account = (Cap("zoom:medium:second", 20, 1.0),)
    channel = sender.pace(job("post", chat=CHANNEL, ref="services.default.notify[0]"))
    assert channel is not None
    # A channel keeps to 5 of the account's 20 a second (no limit per channel is published).
    assert (channel.key, channel.count, channel.per_s) == (f"zoom:chat:{CHANNEL}", 5, 1.0)
    assert (channel.digest_after, channel.shared) == (5, account)
    for op in ("reply", "digest"):
        assert sender.pace(job(op, chat=CHANNEL, message="msg-1")) == channel
    dm = sender.pace(job("post", dm=ALICE, member="alice"))
    assert dm is not None
    assert (dm.key, dm.count, dm.per_s) == (f"zoom:dm:{ALICE}", 20, 1.0)
    assert (dm.digest_after, dm.shared) == (None, account)
    # A reply under alice's card is in her DM (its chat is her JID): it shares her key.
    assert sender.pace(job("reply", chat=ALICE, message="msg-2", reader="alice")) == dm
    edit = sender.pace(job("update", chat=CHANNEL, message="msg-1"))
    assert edit is not None
    assert (edit.key, edit.count, edit.per_s) == ("zoom:edit", 20, 1.0)
    assert (edit.digest_after, edit.shared) == (None, account)
    assert sender.pace(job("update", chat=ALICE, message="msg-2")) == edit
    assert sender.pace(job("post")) is None  # nowhere to send: refused when sent
    off = ZoomSender(zoom_settings(zoom, dm_assignees=False), http)
    assert off.pace(job("post", dm=ALICE, member="alice")) is None  # nothing is sent
    # Free: a tenth of the rate, and a daily cap too.
    free = ZoomSender(zoom_settings(zoom), http, plan="free").pace(job("post", chat=CHANNEL))
    assert free is not None
    assert (free.count, free.per_s) == (2, 1.0)
    assert free.shared == (
        Cap("zoom:medium:second", 2, 1.0),
        Cap("zoom:medium:day", 2_000, 86_400.0),
    )


async def test_the_fake_refuses_like_zoom_over_the_limit(
    zoom: FakeZoom, http: aiohttp.ClientSession
) -> None:
    """What the storm test's ``limited == 0`` would have caught: Zoom's 429s, with the
    headers Zoom documents for a per-second and a daily refusal."""
    now = [1_772_359_200.0]  # 2026-03-01T10:00:00Z
    zoom.limit(2, 3, clock=lambda: now[0])
    pair = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    async with http.post(
        f"{zoom.url}/oauth/token",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {pair}"},
    ) as answer:
        token = (await answer.json())["access_token"]
    body = {
        "robot_jid": zoom_settings(zoom).bot_jid,
        "account_id": zoom_settings(zoom).account_id,
        "to_jid": CHANNEL,
        "content": {"body": [{"type": "message", "text": "hello"}]},
    }

    async def send() -> tuple[int, Any, Any]:
        async with http.post(
            f"{zoom.url}{MESSAGES}", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            return r.status, await r.json(), r.headers

    assert [(await send())[0] for _ in range(2)] == [201, 201]
    status, doc, headers = await send()
    assert (status, doc) == (429, {"code": 429, "message": PER_SECOND_LIMITED})
    assert headers["X-RateLimit-Type"] == "QPS"
    assert headers["X-RateLimit-Category"] == "Medium"
    assert "Retry-After" not in headers
    now[0] += 1.0
    assert (await send())[0] == 201  # the third of the day
    now[0] += 1.0
    status, doc, headers = await send()
    assert (status, doc) == (429, {"code": 429, "message": DAILY_LIMITED})
    assert headers["X-RateLimit-Type"] == "Daily-limit"
    assert headers["Retry-After"] == "2026-03-02T00:00:00Z"
    assert zoom.limited == 2
    now[0] += 14 * 3600.0  # past midnight UTC: a new day
    assert (await send())[0] == 201
    assert len(zoom.posts(CHANNEL)) == 4
