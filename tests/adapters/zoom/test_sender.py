"""ZoomSender and its API client against the fake: what is sent where, the chatbot token's
life, and Zoom's failures as the outbox's error types."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from adapters.zoom.sender import ZoomSender
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from tests.adapters.zoom.conftest import ALICE, CHANNEL, zoom_settings
from tests.cards import samples
from tests.fakes.zoom import FakeZoom

MESSAGES = "/v2/im/chat/messages"
LINK = "https://ackgate.example.com/incidents/42"


def job(destination: dict[str, Any], op: str = "post", **payload: Any) -> Job:
    body: dict[str, Any] = {"op": op, "incident": samples.triggered(), "url": LINK, **payload}
    return Job(1, 42, "zoom", destination, body, attempt=1)


@pytest.fixture
def sender(zoom: FakeZoom, http: aiohttp.ClientSession) -> ZoomSender:
    return ZoomSender(zoom_settings(zoom), http)


async def test_post_to_a_channel_and_to_a_person(sender: ZoomSender, zoom: FakeZoom) -> None:
    posted = await sender.send(job({"chat": CHANNEL}))
    [card] = zoom.cards(CHANNEL)
    assert posted == SendResult(message_ref=card.message_id, chat_id=CHANNEL)
    assert card.values()[0] == "v1:ack:42"
    dm = await sender.send(job({"dm": ALICE, "member": "alice"}))
    [copy] = zoom.cards(ALICE)
    assert dm == SendResult(message_ref=copy.message_id, chat_id=ALICE)
    [token_call] = zoom.called("/oauth/token")
    assert token_call.query == {"grant_type": "client_credentials"}
    assert len(zoom.tokens) == 1  # the token is kept for the next call


async def test_no_dm_when_dm_assignees_is_off(zoom: FakeZoom, http: aiohttp.ClientSession) -> None:
    sender = ZoomSender(zoom_settings(zoom, dm_assignees=False), http)
    assert await sender.send(job({"dm": ALICE, "member": "alice"})) == SendResult()
    assert zoom.calls == []


async def test_update_edits_the_message(sender: ZoomSender, zoom: FakeZoom) -> None:
    posted = await sender.send(job({"chat": CHANNEL}))
    acked = samples.acknowledged()
    dest = {"chat": CHANNEL, "message": posted.message_ref}
    assert await sender.send(job(dest, "update", incident=acked)) == SendResult()
    [card] = zoom.cards(CHANNEL)
    [edit] = card.edits
    assert edit["head"]["sub_head"]["text"].startswith("Acknowledged by alice")
    [put] = zoom.called(f"{MESSAGES}/{posted.message_ref}", "PUT")
    assert put.body["robot_jid"] == zoom_settings(zoom).bot_jid
    assert "to_jid" not in put.body


async def test_update_of_a_deleted_message_is_rejected_with_a_hint(sender: ZoomSender) -> None:
    with pytest.raises(Rejected, match="message was deleted") as caught:
        await sender.send(job({"chat": CHANNEL, "message": "msg-gone"}, "update"))
    assert caught.value.code == "not_found"
    with pytest.raises(Rejected, match="not a message id"):
        await sender.send(job({"chat": CHANNEL, "message": "../users"}, "update"))


async def test_reply_threads_one_line_under_the_card(sender: ZoomSender, zoom: FakeZoom) -> None:
    posted = await sender.send(job({"chat": CHANNEL}))
    dest = {"chat": CHANNEL, "message": posted.message_ref}
    entry = {"kind": "acknowledged", "actor": "alice", "source": "zoom", "data": {}}
    await sender.send(Job(2, 42, "zoom", dest, {"op": "reply", "entry": entry}, attempt=1))
    [reply] = [m for m in zoom.posts(CHANNEL) if m.reply_to]
    assert reply.reply_to == posted.message_ref
    assert reply.content == {"body": [{"type": "message", "text": "Acknowledged by alice"}]}
    triggered: dict[str, Any] = {
        "kind": "triggered",
        "actor": None,
        "source": "prometheus",
        "data": {},
    }
    await sender.send(Job(3, 42, "zoom", dest, {"op": "reply", "entry": triggered}, attempt=1))
    assert len(zoom.posts(CHANNEL)) == 2  # the card says it all: no line


async def test_a_refused_token_is_replaced_once(sender: ZoomSender, zoom: FakeZoom) -> None:
    await sender.send(job({"chat": CHANNEL}))
    zoom.expire_tokens()  # as after its hour
    await sender.send(job({"chat": CHANNEL}))
    assert len(zoom.tokens) == 2
    zoom.fail_next(401, "Invalid access token.", code=124, path="send")
    await sender.send(job({"chat": CHANNEL}))
    assert len(zoom.tokens) == 3
    assert len(zoom.cards(CHANNEL)) == 3


async def test_a_token_near_its_end_is_not_used(sender: ZoomSender, zoom: FakeZoom) -> None:
    zoom.token_expires_s = 4 * 60  # inside the 5-minute margin: fetched again every time
    await sender.send(job({"chat": CHANNEL}))
    await sender.send(job({"chat": CHANNEL}))
    assert len(zoom.tokens) == 2
    zoom.token_expires_s = 3599
    await sender.send(job({"chat": CHANNEL}))
    await sender.send(job({"chat": CHANNEL}))
    assert len(zoom.tokens) == 3


async def test_a_token_refused_twice_is_an_auth_failure(sender: ZoomSender, zoom: FakeZoom) -> None:
    zoom.fail_next(401, "Invalid access token.", code=124, path="send")
    zoom.fail_next(401, "Invalid access token.", code=124, path="send")
    with pytest.raises(AuthFailed, match="imchat:bot"):
        await sender.send(job({"chat": CHANNEL}))
    assert zoom.cards(CHANNEL) == []


async def test_concurrent_sends_share_one_token(sender: ZoomSender, zoom: FakeZoom) -> None:
    await asyncio.gather(*(sender.send(job({"chat": CHANNEL})) for _ in range(5)))
    assert len(zoom.tokens) == 1
    assert len(zoom.cards(CHANNEL)) == 5


async def test_rate_limits_carry_retry_after(sender: ZoomSender, zoom: FakeZoom) -> None:
    zoom.fail_next(429, "You have reached the maximum per-second rate limit.", retry_after="7")
    with pytest.raises(RateLimited) as caught:
        await sender.send(job({"chat": CHANNEL}))
    assert caught.value.retry_after_s == 7
    zoom.fail_next(429, "You have reached the maximum daily rate limit.")
    with pytest.raises(RateLimited) as caught:
        await sender.send(job({"chat": CHANNEL}))
    assert caught.value.retry_after_s == 60


async def test_errors_map_to_what_the_outbox_needs(sender: ZoomSender, zoom: FakeZoom) -> None:
    with pytest.raises(Rejected, match="bot is not in it") as caught:
        await sender.send(job({"chat": "unknown@conference.xmpp.zoom.us"}))
    assert caught.value.code == "not_found"
    zoom.fail_next(500, "Internal error", path="send")
    with pytest.raises(Unavailable, match="500"):
        await sender.send(job({"chat": CHANNEL}))
    zoom.fail_next(403, "No permission.", code=4700)
    with pytest.raises(AuthFailed, match=r"zoom\.bot_jid"):
        await sender.send(job({"chat": CHANNEL}))
    zoom.fail_next(400, "Invalid content.", code=300)
    with pytest.raises(Rejected, match="code 300") as caught:
        await sender.send(job({"chat": CHANNEL}))
    assert caught.value.code == "300"
    with pytest.raises(Rejected, match="no known op"):
        await sender.send(job({"chat": CHANNEL}, "delete"))
    with pytest.raises(Rejected, match="no incident"):
        await sender.send(job({"chat": CHANNEL}, incident=None))
    assert zoom.cards(CHANNEL) == []


async def test_wrong_credentials_are_an_auth_failure(
    zoom: FakeZoom, http: aiohttp.ClientSession
) -> None:
    sender = ZoomSender(zoom_settings(zoom, client_secret="not-the-secret"), http)
    with pytest.raises(AuthFailed, match=r"zoom\.client_id or zoom\.client_secret"):
        await sender.send(job({"chat": CHANNEL}))
    zoom.fail_next(503, "Service unavailable", path="token")
    sender = ZoomSender(zoom_settings(zoom), http)
    with pytest.raises(Unavailable, match="oauth/token answered 503"):
        await sender.send(job({"chat": CHANNEL}))
    assert zoom.called(MESSAGES) == []


async def test_an_unreachable_zoom_is_unavailable(
    zoom: FakeZoom, http: aiohttp.ClientSession
) -> None:
    closed = "http://127.0.0.1:1"  # nothing listens on port 1
    sender = ZoomSender(zoom_settings(zoom, oauth_url=closed, api_base_url=closed), http)
    with pytest.raises(Unavailable, match="unreachable"):
        await sender.send(job({"chat": CHANNEL}))
