"""LarkSender and its Open API client against the fake: what they send, how the tenant token is
kept, and how Feishu's failures map to the outbox's errors."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.lark.api import LarkApi
from adapters.lark.sender import LarkSender, reply_line
from gateway.config import LarkSettings
from gateway.domain import Incident, Severity, Status
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from gateway.wire import card_json
from tests.adapters.lark.conftest import ALICE, CHAT, lark_section
from tests.fakes.lark import CODE_RATE_LIMITED, CODE_TOKEN_INVALID, FakeLark

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
INCIDENT = Incident(
    number=7,
    title="Disk full on db-1",
    description="",
    severity=Severity.CRITICAL,
    status=Status.TRIGGERED,
    service="default",
    integration="prometheus",
    created_at=NOW,
    updated_at=NOW,
    assignees=("alice",),
)
ACK_ENTRY = {"at": "2026-03-01T10:02:00Z", "kind": "acknowledged", "actor": "alice",
             "source": "lark", "data": {}}  # fmt: skip


def job(destination: dict[str, Any], op: str = "post", delivery: int = 1, **payload: Any) -> Job:
    doc = {
        "op": op,
        "incident": card_json(INCIDENT),
        "url": "https://ackgate.example.invalid/incidents/7",
        **payload,
    }
    return Job(delivery_id=delivery, incident_id=7, channel="lark", destination=destination,
               payload=doc, attempt=1)  # fmt: skip


def settings(fake: FakeLark, **overrides: Any) -> LarkSettings:
    return LarkSettings.model_validate(lark_section(fake, **overrides))


def sender(fake: FakeLark, session: aiohttp.ClientSession, **overrides: Any) -> LarkSender:
    return LarkSender(settings(fake, **overrides), session)


async def test_posts_the_card_to_a_chat(lark: FakeLark, http: aiohttp.ClientSession) -> None:
    result = await sender(lark, http).send(job({"chat": CHAT, "ref": "x"}))

    [card] = lark.posts(CHAT)
    assert result == SendResult(message_ref=card.message_id, chat_id=CHAT)
    assert card.content["header"]["title"]["content"] == "🔴 #7 Disk full on db-1"
    assert card.content["config"]["update_multi"] is True
    [call] = lark.called("/im/v1/messages")
    assert call.query == {"receive_id_type": "chat_id"}
    assert call.body["msg_type"] == "interactive"
    assert call.body["uuid"] == "ackgate-1"
    assert call.headers["Authorization"] == f"Bearer {lark.tokens[0]}"
    [token_call] = lark.called("tenant_access_token/internal")
    assert token_call.body == {"app_id": lark.app_id, "app_secret": lark.app_secret}


async def test_a_dm_goes_to_the_open_id_and_returns_its_chat(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    result = await sender(lark, http).send(job({"dm": ALICE, "member": "alice"}))
    [card] = lark.posts(FakeLark.p2p_chat(ALICE))
    assert result == SendResult(message_ref=card.message_id, chat_id=FakeLark.p2p_chat(ALICE))
    assert lark.called("/im/v1/messages")[0].query == {"receive_id_type": "open_id"}


async def test_no_dm_when_the_app_turned_them_off(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    result = await sender(lark, http, dm_assignees=False).send(job({"dm": ALICE}))
    assert result == SendResult()
    assert lark.calls == []


async def test_a_retried_post_is_one_message(lark: FakeLark, http: aiohttp.ClientSession) -> None:
    first = await sender(lark, http).send(job({"chat": CHAT}, delivery=5))
    again = await sender(lark, http).send(job({"chat": CHAT}, delivery=5))
    assert first == again
    assert len(lark.posts(CHAT)) == 1


async def test_an_update_patches_the_card_and_a_reply_goes_in_its_thread(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    posted = await sender(lark, http).send(job({"chat": CHAT}))
    assert posted.message_ref is not None
    acked = card_json(INCIDENT)
    acked.update(status="acknowledged", acked_by="alice", acked_at="2026-03-01T10:02:00Z")
    where = {"chat": CHAT, "message": posted.message_ref}

    assert await sender(lark, http).send(job(where, "update", incident=acked)) == SendResult()
    [card] = lark.posts(CHAT)
    assert len(card.updates) == 1
    assert card.content["header"]["subtitle"]["content"] == "Acknowledged by alice · 10:02"
    assert lark.replies(card.message_id) == []  # the reply is its own delivery

    reply = job(where, "reply", delivery=2, entry={**ACK_ENTRY, "kind": "commented",
                "data": {"text": "<at user_id=\"all\"></at> look"}})  # fmt: skip
    assert await sender(lark, http).send(reply) == SendResult()
    [line] = lark.replies(card.message_id)
    assert line.in_thread
    # A post's text elements are literal: the comment cannot @all from the bot's mouth.
    assert line.content == {"zh_cn": {"title": "", "content": [
        [{"tag": "text", "text": 'alice commented: <at user_id="all"></at> look'}]]}}  # fmt: skip


async def test_lark_region_posts_in_english(lark: FakeLark, http: aiohttp.ClientSession) -> None:
    posted = await sender(lark, http).send(job({"chat": CHAT}))
    assert posted.message_ref is not None
    where = {"chat": CHAT, "message": posted.message_ref}
    await sender(lark, http, region="lark").send(job(where, "reply", entry=ACK_ENTRY))
    [line] = lark.replies(posted.message_ref)
    assert list(line.content) == ["en_us"]


async def test_a_triggered_entry_needs_no_reply(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    entry = {**ACK_ENTRY, "kind": "triggered", "actor": None}
    result = await sender(lark, http).send(job({"chat": CHAT, "message": "om_1"}, "reply",
                                               entry=entry))  # fmt: skip
    assert result == SendResult()
    assert lark.calls == []


async def test_rate_limited_carries_the_reset(lark: FakeLark, http: aiohttp.ClientSession) -> None:
    lark.fail_next(429, CODE_RATE_LIMITED, headers={"x-ogw-ratelimit-reset": "7"},
                   path="/im/v1/messages")  # fmt: skip
    with pytest.raises(RateLimited) as caught:
        await sender(lark, http).send(job({"chat": CHAT}))
    assert caught.value.retry_after_s == 7.0
    assert "99991400" in str(caught.value)


async def test_the_old_rate_limit_answer_is_rate_limited_too(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    lark.fail_next(400, CODE_RATE_LIMITED, path="/im/v1/messages")
    with pytest.raises(RateLimited) as caught:
        await sender(lark, http).send(job({"chat": CHAT}))
    assert caught.value.retry_after_s == 1.0


async def test_an_expired_token_is_replaced_once(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    out = sender(lark, http)
    await out.send(job({"chat": CHAT}, delivery=1))
    lark.expire_tokens()
    await out.send(job({"chat": CHAT}, delivery=2))
    assert len(lark.tokens) == 2
    assert len(lark.posts(CHAT)) == 2
    last = lark.called("/im/v1/messages")[-1]
    assert last.headers["Authorization"] == f"Bearer {lark.tokens[1]}"


async def test_a_token_refused_twice_is_auth_failed(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    lark.fail_next(400, CODE_TOKEN_INVALID, path="/im/v1/messages")
    lark.fail_next(400, CODE_TOKEN_INVALID, path="/im/v1/messages")
    with pytest.raises(AuthFailed) as caught:
        await sender(lark, http).send(job({"chat": CHAT}))
    assert not caught.value.retryable
    assert len(lark.tokens) == 2


async def test_a_wrong_app_secret_is_auth_failed(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(AuthFailed) as caught:
        await sender(lark, http, app_secret="wrong-secret-123").send(job({"chat": CHAT}))
    assert "tenant_access_token" in str(caught.value)
    assert lark.called("/im/v1/messages") == []


async def test_a_bot_outside_the_chat_is_rejected_with_a_hint(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(lark, http).send(job({"chat": "oc_elsewhere"}))
    assert caught.value.code == "230002"
    assert "add the app's bot to the chat" in str(caught.value)
    assert not caught.value.retryable


async def test_a_user_outside_the_availability_scope_is_rejected(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(lark, http).send(job({"dm": "ou_unknown"}))
    assert caught.value.code == "230013"


async def test_a_server_error_is_unavailable(lark: FakeLark, http: aiohttp.ClientSession) -> None:
    lark.fail_next(502, path="/im/v1/messages")
    with pytest.raises(Unavailable) as caught:
        await sender(lark, http).send(job({"chat": CHAT}))
    assert caught.value.retryable
    assert "502" in str(caught.value)


async def test_an_unreachable_feishu_is_unavailable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    fake = FakeLark()
    fake.url = f"http://127.0.0.1:{port}"
    with pytest.raises(Unavailable):
        await sender(fake, http).send(job({"chat": CHAT}))


async def test_an_unknown_op_is_rejected(lark: FakeLark, http: aiohttp.ClientSession) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(lark, http).send(job({"chat": CHAT}, "delete"))
    assert caught.value.code == "bad_op"


async def test_concurrent_calls_share_one_token_fetch(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    out = sender(lark, http)
    await asyncio.gather(*(out.send(job({"chat": CHAT}, delivery=n)) for n in range(1, 6)))
    assert len(lark.called("tenant_access_token/internal")) == 1
    assert len(lark.posts(CHAT)) == 5


async def test_a_token_near_its_end_is_replaced_before_use(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    lark.token_expire_s = 20 * 60  # under the 30 minutes left at which Feishu issues a new one
    api = LarkApi(settings(lark), http)
    first = await api.token()
    second = await api.token()
    assert first != second
    assert lark.tokens == [first, second]
    lark.token_expire_s = 7200
    assert await api.token() == await api.token()


async def test_batch_get_id_maps_emails_in_chunks(
    lark: FakeLark, http: aiohttp.ClientSession
) -> None:
    lark.add_user("ou_x", "X@Example.com")
    emails = [f"user{i}@example.com" for i in range(70)] + ["x@example.com", "X@example.com"]
    found = await LarkApi(settings(lark), http).open_ids_by_email(emails)
    assert found == {"x@example.com": "ou_x"}
    assert [len(c.body["emails"]) for c in lark.called("batch_get_id")] == [50, 21]


@pytest.mark.parametrize(
    ("kind", "actor", "data", "expected"),
    [
        ("triggered", None, {}, None),
        ("acknowledged", "alice", {}, "Acknowledged by alice"),
        ("closed", None, {"reason": "resolved"}, "Closed: all alerts resolved"),
        ("escalated", None, {"assignees": ["bob"], "step": 1}, "Escalated to bob"),
        ("commented", "bob", {"text": "rolled\nback"}, "bob commented: rolled back"),
        ("snoozed", "alice", {"minutes": 30.0, "until": "2026-03-01T10:32:00+00:00"},
         "Snoozed by alice until 2026-03-01 10:32 UTC"),
        ("something_new", None, {}, "Something new (prometheus)"),
    ],
)  # fmt: skip
def test_reply_wording(
    kind: str, actor: str | None, data: dict[str, Any], expected: str | None
) -> None:
    entry = {"at": "2026-03-01T10:00:00Z", "kind": kind, "actor": actor,
             "source": "prometheus", "data": data}  # fmt: skip
    assert reply_line(entry) == expected
