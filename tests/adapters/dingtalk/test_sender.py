"""DingtalkSender against the fake: what each op sends, and DingTalk's failures as our errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from adapters.dingtalk.api import DingtalkApi
from adapters.dingtalk.sender import DingtalkSender
from gateway.config import DingtalkSettings
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from tests.adapters.dingtalk.conftest import ALICE, GROUP, dingtalk_section, shown
from tests.cards import samples
from tests.fakes.dingtalk import CODE_THROTTLED, CODE_TOKEN_INVALID, FakeDingtalk


def settings(fake: FakeDingtalk, **overrides: Any) -> DingtalkSettings:
    return DingtalkSettings.model_validate(dingtalk_section(fake, **overrides))


def job(
    op: str = "post", *, delivery_id: int = 7, entry: dict[str, Any] | None = None, **dest: Any
) -> Job:
    payload: dict[str, Any] = {
        "op": op,
        "incident": samples.triggered(),
        "url": "https://ackgate.example.com/incidents/42",
    }
    if entry is not None:
        payload["entry"] = entry
    return Job(
        delivery_id=delivery_id,
        incident_id=42,
        channel="dingtalk",
        destination=dest or {"chat": GROUP},
        payload=payload,
        attempt=1,
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def sender(dingtalk: FakeDingtalk, http: aiohttp.ClientSession) -> DingtalkSender:
    return DingtalkSender(settings(dingtalk), http)


async def test_a_card_to_a_group(sender: DingtalkSender, dingtalk: FakeDingtalk) -> None:
    result = await sender.send(job())
    assert result == SendResult(message_ref="ackgate-42-7", chat_id=GROUP)
    card = dingtalk.cards["ackgate-42-7"]
    assert card.conversation == GROUP
    assert card.button_ids()[0] == "v1:ack:42"
    [call] = dingtalk.called("/interactiveCards/send")
    assert call.body["cardTemplateId"] == "StandardCard"
    assert isinstance(call.body["cardData"], str)


async def test_a_card_to_a_member(sender: DingtalkSender, dingtalk: FakeDingtalk) -> None:
    result = await sender.send(job(dm=ALICE, member="alice"))
    assert result == SendResult(message_ref="ackgate-42-7", chat_id=f"user:{ALICE}")
    [call] = dingtalk.called("/interactiveCards/send")
    assert call.body["singleChatReceiver"] == '{"userId": "staff-alice"}'
    assert "openConversationId" not in call.body


async def test_no_member_cards_when_dm_assignees_is_off(
    dingtalk: FakeDingtalk, http: aiohttp.ClientSession
) -> None:
    sender = DingtalkSender(settings(dingtalk, dm_assignees=False), http)
    assert await sender.send(job(dm=ALICE, member="alice")) == SendResult()
    assert dingtalk.calls == []


async def test_an_update_replaces_the_card(sender: DingtalkSender, dingtalk: FakeDingtalk) -> None:
    await sender.send(job())
    update = job("update", chat=GROUP, message="ackgate-42-7")
    update.payload["incident"] = samples.acknowledged()
    assert await sender.send(update) == SendResult()
    card = dingtalk.cards["ackgate-42-7"]
    assert len(card.updates) == 1
    assert "Acknowledged by alice" in shown(card.data)


async def test_a_reply_is_a_line_in_the_group_or_to_the_member(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    acked = samples.entry("2026-03-01T10:02:00Z", "acknowledged", "alice", "dingtalk")
    await sender.send(job("reply", entry=acked, chat=GROUP, message="ackgate-42-7"))
    await sender.send(job("reply", entry=acked, chat=f"user:{ALICE}", message="ackgate-42-8"))
    triggered = samples.entry("2026-03-01T10:00:00Z", "triggered", None, "prometheus")
    await sender.send(job("reply", entry=triggered, chat=GROUP, message="ackgate-42-7"))
    assert dingtalk.texts_to("group", GROUP) == ["Acknowledged by alice"]
    assert dingtalk.texts_to("user", ALICE) == ["Acknowledged by alice"]


async def test_the_token_is_fetched_once_and_reused(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    await sender.send(job(delivery_id=1))
    await sender.send(job(delivery_id=2))
    assert len(dingtalk.called("/oauth2/accessToken")) == 1


async def test_a_refused_token_is_replaced_once(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    await sender.send(job(delivery_id=1))
    dingtalk.expire_tokens()
    await sender.send(job(delivery_id=2))
    assert len(dingtalk.tokens) == 2
    assert "ackgate-42-2" in dingtalk.cards


async def test_a_token_refused_twice_is_auth_failed(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    dingtalk.fail_next(401, CODE_TOKEN_INVALID, path="/interactiveCards/send")
    dingtalk.fail_next(401, CODE_TOKEN_INVALID, path="/interactiveCards/send")
    with pytest.raises(AuthFailed):
        await sender.send(job())
    assert len(dingtalk.tokens) == 2


async def test_a_wrong_secret_is_auth_failed(
    dingtalk: FakeDingtalk, http: aiohttp.ClientSession
) -> None:
    sender = DingtalkSender(settings(dingtalk, client_secret="not-the-secret-01"), http)
    with pytest.raises(AuthFailed, match="client_secret"):
        await sender.send(job())


@pytest.mark.parametrize(
    ("status", "code", "headers", "wait_s"),
    [
        (429, CODE_THROTTLED, {"Retry-After": "7"}, 7.0),
        (403, CODE_THROTTLED, {}, 1.0),
        (429, None, {}, 1.0),
    ],
)
async def test_throttling_is_rate_limited(
    sender: DingtalkSender,
    dingtalk: FakeDingtalk,
    status: int,
    code: str | None,
    headers: dict[str, str],
    wait_s: float,
) -> None:
    await sender.send(job(delivery_id=1))  # a token first, so the fault hits the card call
    dingtalk.fail_next(status, code, headers=headers, path="/interactiveCards/send")
    with pytest.raises(RateLimited) as caught:
        await sender.send(job(delivery_id=2))
    assert caught.value.retry_after_s == wait_s


async def test_a_server_error_is_unavailable(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    dingtalk.fail_next(502, path="/interactiveCards/send")
    with pytest.raises(Unavailable):
        await sender.send(job())


async def test_a_group_without_the_robot_is_rejected_with_a_hint(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    with pytest.raises(Rejected, match="add the app's robot to the group") as caught:
        await sender.send(job(chat="cidSomewhereElse=="))
    assert caught.value.code == "robot.notInGroup"


async def test_an_unknown_member_is_rejected_with_a_hint(
    sender: DingtalkSender, dingtalk: FakeDingtalk
) -> None:
    with pytest.raises(Rejected, match="staff id") as caught:
        await sender.send(job(dm="Zhang San", member="alice"))
    assert caught.value.code == "staffId.notExisted"


async def test_a_wrong_robot_code_is_rejected_with_a_hint(
    dingtalk: FakeDingtalk, http: aiohttp.ClientSession
) -> None:
    sender = DingtalkSender(settings(dingtalk, robot_code="dingnotours"), http)
    with pytest.raises(Rejected, match="robot_code"):
        await sender.send(job())


async def test_dingtalk_out_of_reach_is_unavailable(
    aiohttp_server: Any, http: aiohttp.ClientSession
) -> None:
    fake = FakeDingtalk()
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url("")).rstrip("/")
    await server.close()
    with pytest.raises(Unavailable, match="unreachable"):
        await DingtalkSender(settings(fake), http).send(job())


async def test_an_unknown_op_or_destination_is_rejected(sender: DingtalkSender) -> None:
    with pytest.raises(Rejected):
        await sender.send(job("delete"))
    with pytest.raises(Rejected):
        await sender.send(job("update", chat=GROUP))


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://oapi.dingtalk.com/robot/sendBySession?session=x", True),
        ("https://api.dingtalk.com/robot/sendBySession?session=x", True),
        ("http://oapi.dingtalk.com/robot/sendBySession?session=x", False),
        ("https://oapi.dingtalk.com.evil.example/x", False),
        ("https://evildingtalk.com/x", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:1/robot/sendBySession", False),  # our API's host, another port
        ("not a url", False),
        ("http://[::1/", False),
    ],
)
async def test_only_dingtalk_session_webhooks_are_called(
    dingtalk: FakeDingtalk, http: aiohttp.ClientSession, url: str, allowed: bool
) -> None:
    api = DingtalkApi(settings(dingtalk), http)
    assert api.may_post_to(url) is allowed
    assert api.may_post_to(dingtalk.session_webhook("s1"))
    if not allowed:
        with pytest.raises(Rejected):
            await api.reply_in_session(url, "hello")


async def test_a_user_is_found_by_mobile(
    dingtalk: FakeDingtalk, http: aiohttp.ClientSession
) -> None:
    dingtalk.add_user("staff-carol", "13700000003")
    api = DingtalkApi(settings(dingtalk), http)
    assert await api.user_id_by_mobile("13700000003") == "staff-carol"
    assert await api.user_id_by_mobile("13700000000") is None
    dingtalk.expire_tokens()
    assert await api.user_id_by_mobile("13700000003") == "staff-carol"
    assert len(dingtalk.tokens) == 2
